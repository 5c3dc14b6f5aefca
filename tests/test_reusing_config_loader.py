"""A sweep's jobs, composed once per defaults tree by d2lab's sweepers, are exactly what Hydra composes."""

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import OmegaConf

from d2lab.paths import config_dir
from hydra_plugins.d2lab_sweepers.reusing_config_loader import ReusingConfigLoader


@pytest.fixture
def loaders(tmp_path):
    """Hydra's own loader, d2lab's around it, and a sweep's master config with a task and a hydra override."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=config_dir()):
        hydra_loader = GlobalHydra.instance().config_loader()
        master = hydra_loader.load_configuration(
            "train", [f"hydra.sweep.dir={tmp_path}", "data=airfoil"], RunMode.MULTIRUN
        )
        yield hydra_loader, ReusingConfigLoader(hydra_loader), master
    GlobalHydra.instance().clear()


def same(a, b) -> bool:
    """Equal values (unresolved), interpolations and flags."""
    flags = lambda c: (OmegaConf.is_struct(c), OmegaConf.is_readonly(c), OmegaConf.is_readonly(c.hydra))  # noqa: E731
    return OmegaConf.to_yaml(a) == OmegaConf.to_yaml(b) and flags(a) == flags(b)


JOBS = {
    "a grid of values": [
        ["data=airfoil", f"optimizer.lr={lr}", f"seed={seed}"] for lr in (0.01, 0.1) for seed in (0, 1, 2)
    ],
    "config groups and values": [
        [f"optimizer={opt}", f"optimizer.lr={lr}"] for opt in ("sgd", "adam") for lr in (0.01, 0.1)
    ],
    "other keys from one job to the next": [
        ["optimizer.lr=0.5", "seed=3"],
        ["seed=4"],
        ["optimizer.lr=0.2", "seed=5"],
        ["seed=6", "optimizer.lr=0.1"],
    ],
    "every kind of value": [
        ["seed=1", "task_name=null", "trainer.max_epochs=2"],
        ["seed=2", "task_name='a name with spaces'", "trainer.max_epochs=${seed}"],
        ["seed=3", "task_name=true", "trainer.max_epochs=2.5"],
        ["seed=4", "task_name=", "trainer.max_epochs=???"],
    ],
    "adds, deletions and dicts, which Hydra applies in order": [
        ["++trainer.max_epochs=2", "trainer.max_epochs=5", "+extra=1", "~logger"],
        ["++trainer.max_epochs=2", "trainer.max_epochs=6", "+extra=1", "~logger"],
        ["trainer.max_epochs=7", "++trainer={max_epochs: 2}"],
        ["trainer.max_epochs=8", "++trainer={max_epochs: 2}"],
        ["trainer.max_epochs=9", "trainer.devices=[1]"],
        ["trainer.max_epochs=10", "trainer.devices=[2]"],
    ],
    "a group option, given as a value": [["data=airfoil", "seed=1"], ["data=synthetic", "seed=1"]],
    "hydra overrides": [
        ["hydra.job.config.override_dirname.exclude_keys=[seed]", "seed=1"],
        ["hydra.job.config.override_dirname.exclude_keys=[seed]", "seed=2"],
        ["hydra/launcher=parallel", "seed=3"],
    ],
}


@pytest.mark.parametrize("case", JOBS)
def test_each_job_is_what_hydra_composes(loaders, case):
    hydra_loader, loader, master = loaders
    for overrides in JOBS[case]:
        ours, hydras = loader.load_sweep_config(master, overrides), hydra_loader.load_sweep_config(master, overrides)
        assert same(ours, hydras), (overrides, OmegaConf.to_yaml(ours))


def test_jobs_that_differ_in_values_share_one_composition(loaders):
    _, loader, master = loaders
    for overrides in JOBS["a grid of values"] + JOBS["config groups and values"]:
        loader.load_sweep_config(master, overrides)
    assert loader.reused == 5 + 2  # all but the first of the grid, and of each optimizer


def test_a_bad_override_gets_hydras_error(loaders):
    hydra_loader, loader, master = loaders
    loader.load_sweep_config(master, ["optimizer.lr=0.1"])
    for bad in (["optimizer.lrr=0.1"], ["optimizer.lr=0.1", "optimizer.lr.x=1"], ["optimizer=nope"]):
        with pytest.raises(ConfigCompositionException) as ours:
            loader.load_sweep_config(master, bad)
        with pytest.raises(ConfigCompositionException) as hydras:
            hydra_loader.load_sweep_config(master, bad)
        assert str(ours.value) == str(hydras.value)


def test_a_job_never_shares_its_config_object(loaders):
    _, loader, master = loaders
    first = loader.load_sweep_config(master, ["seed=1"])
    first.seed = 99
    assert loader.load_sweep_config(master, ["seed=1"]).seed == 1
    assert loader.load_sweep_config(master, ["seed=2"]).seed == 2
