"""The sweep presets expand into the jobs they promise, each composing the book's settings; the joblib
launcher composes, and no data module needs DataLoader worker processes (which break inside joblib)."""

from pathlib import Path

import pytest
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import get_class, instantiate

from d2lab.data.batches import TensorBatches
from d2lab.data.in_memory import InMemoryDataModule
from d2lab.paths import config_dir


def jobs_of(compose_cfg, experiment: str) -> list:
    """Every job's composed config, expanded the way Hydra's basic sweeper does."""
    cfg = compose_cfg(f"experiment={experiment}")
    params = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    (batch,) = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(params), None)
    return [compose_cfg(f"experiment={experiment}", *job) for job in batch]


def test_minibatch_grid_is_lr_by_batch_size_on_airfoil(compose_cfg):
    jobs = jobs_of(compose_cfg, "d2l_minibatch_sgd_grid")
    cells = {(c.optimizer.lr, c.data.batch_size) for c in jobs}
    assert len(jobs) == len(cells) == 12
    assert {b for _, b in cells} == {1, 10, 100, 1500}
    assert {c.data._target_.rsplit(".", 1)[1] for c in jobs} == {"Airfoil"}
    assert {c.optimizer._target_ for c in jobs} == {"torch.optim.SGD"}
    assert all(c.task_name == "d2l_minibatch_sgd_grid" for c in jobs)


BOOK_LR = {  # the book's airfoil learning rates, chapter 12
    "torch.optim.SGD": {0.0: 0.05, 0.9: 0.005},  # keyed by momentum: plain SGD and momentum
    "torch.optim.Adagrad": 0.1,
    "torch.optim.RMSprop": 0.01,
    "torch.optim.Adadelta": 1.0,
    "torch.optim.Adam": 0.01,
}


def test_optimizers_on_airfoil_use_the_books_learning_rates(compose_cfg):
    jobs = jobs_of(compose_cfg, "optimizers_on_airfoil")
    assert len(jobs) == 6
    for cfg in jobs:
        expected = BOOK_LR[cfg.optimizer._target_]
        if isinstance(expected, dict):
            expected = expected[cfg.optimizer.momentum]
        assert cfg.optimizer.lr == expected, cfg.optimizer
        assert cfg.data.batch_size == 10 and cfg.trainer.max_epochs == 2
    assert sorted(c.optimizer._target_.rsplit(".", 1)[1] for c in jobs) == sorted(
        ["SGD", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam"]
    )


def test_schedules_sweep_every_schedule_on_one_task(compose_cfg):
    jobs = jobs_of(compose_cfg, "schedules")
    names = [c.scheduler._target_.rsplit(".", 1)[1] for c in jobs]
    assert names == ["Constant", "Exponential", "Polynomial", "Step", "Cosine"]
    shared = {(c.optimizer.lr, c.data.batch_size, c.trainer.max_epochs, c.data._target_) for c in jobs}
    assert len(shared) == 1


def test_joblib_launcher_n_jobs_is_configurable(compose_cfg):
    cfg = compose_cfg("hydra/launcher=joblib", "hydra.launcher.n_jobs=3")
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher") and cfg.hydra.launcher.n_jobs == 3


@pytest.mark.parametrize("data", sorted(p.stem for p in (Path(config_dir()) / "data").glob("*.yaml")))
def test_data_modules_need_no_worker_processes(compose_cfg, data):
    # DataLoader workers cannot start inside joblib's worker processes (pytorch#44687, hydra#964).
    cfg = compose_cfg(f"data={data}")
    assert issubclass(get_class(cfg.data._target_), InMemoryDataModule)
    assert cfg.data.get("num_workers", 0) == 0


def test_in_memory_loaders_are_plain_tensor_batches(compose_cfg):
    datamodule = instantiate(compose_cfg("data=airfoil").data)
    datamodule.setup("fit")
    loaders = [datamodule.train_dataloader(), datamodule.val_dataloader(), datamodule.test_dataloader()]
    assert all(isinstance(loader, TensorBatches) for loader in loaders)
