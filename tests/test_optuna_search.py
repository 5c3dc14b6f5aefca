"""The Optuna sweeper: search-space parsing, the hparams_search configs, and a real search that survives
diverged trials."""

import math

import pytest
import yaml
from hydra.core.plugins import Plugins
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.d2lab_sweepers.optuna_sweeper import OptunaSweeper, resolve_n_jobs
from hydra_plugins.d2lab_sweepers.search_space import parse_search_space
from tests.conftest import read_metrics, run_cli


def test_sweep_overrides_become_optuna_distributions():
    space, fixed = parse_search_space(
        [
            "optimizer=choice(sgd, adam)",
            "optimizer.lr=tag(log, interval(0.001, 1.0))",
            "trainer.max_epochs=interval(1, 5)",  # Hydra intervals are always floats
            "data.batch_size=range(8, 33, 8)",
            "hparams_search=airfoil_optuna",
            "+minibatch=gd",
        ]
    )
    assert space["optimizer"] == CategoricalDistribution(["sgd", "adam"])
    assert space["optimizer.lr"] == FloatDistribution(0.001, 1.0, log=True)
    assert space["trainer.max_epochs"] == FloatDistribution(1.0, 5.0)
    assert space["data.batch_size"] == IntDistribution(8, 32, step=8)  # Hydra's range excludes its stop
    assert fixed == ["hparams_search=airfoil_optuna", "+minibatch=gd"]


def test_a_later_override_replaces_a_search_dimension():
    space, fixed = parse_search_space(["optimizer.lr=interval(0.001, 1.0)", "optimizer.lr=0.05"])
    assert space == {} and fixed == ["optimizer.lr=0.05"]


def test_n_jobs_follows_joblib_convention():
    assert resolve_n_jobs(3) == 3
    assert resolve_n_jobs(-1) >= 1


def test_sweeper_is_a_discoverable_hydra_plugin():
    from hydra.plugins.sweeper import Sweeper

    names = {f"{c.__module__}.{c.__name__}" for c in Plugins.instance().discover(Sweeper)}
    assert f"{OptunaSweeper.__module__}.OptunaSweeper" in names


def test_airfoil_optuna_composes_a_seeded_tpe_search(compose_cfg):
    cfg = compose_cfg("hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=7", "seed=3")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper")
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler" and sweeper.sampler.seed == 3
    assert sweeper.n_trials == 7 and sweeper.direction == "minimize"
    assert cfg.hydra.mode.name == "MULTIRUN"
    assert cfg.data._target_.endswith("Airfoil") and cfg.task.monitor == "val/loss"
    space, _ = parse_search_space([f"{k}={v}" for k, v in sweeper.params.items()])
    assert set(space) == {"optimizer", "optimizer.lr", "data.batch_size"}
    assert "momentum" in space["optimizer"].choices and space["optimizer.lr"].log


def test_lenet_optuna_searches_bn_lenet_lr_and_batch_size(compose_cfg):
    cfg = compose_cfg("hparams_search=lenet_optuna")
    assert "lenet" in cfg.model._target_.lower() and cfg.model.norm == "batchnorm"
    assert cfg.data._target_.endswith("FashionMNISTData")
    assert cfg.task.monitor == "val/acc" and cfg.task.mode == "max"
    assert cfg.hydra.sweeper.direction == "maximize"
    space, _ = parse_search_space([f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()])
    assert set(space) == {"optimizer.lr", "data.batch_size"}


@pytest.mark.slow
def test_a_search_whose_every_trial_fails_ends_in_one_paragraph(tmp_path):
    result = run_cli("-m", "d2lab.train", "hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=2",
                     "trainer.max_epochs=-7", f"hydra.sweep.dir={tmp_path}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    (last,) = result.stderr.strip().splitlines()[-1:]
    assert last.startswith("d2lab: None of the 2 trials completed (2 failed, 0 pruned); trial 0 failed with: ")
    assert "trainer.max_epochs=-7" in last and f"see the job folders in {tmp_path}" in last
    assert yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())["n_failed"] == 2


@pytest.mark.slow
def test_a_search_with_diverging_trials_finishes_and_saves_the_best(tmp_path):
    # lr 50 diverges with SGD on airfoil; the seeded sampler draws it for some of the 4 trials.
    # logger=csv: the CSV logger must take the final metrics too.
    result = run_cli(
        "-m", "d2lab.train", "hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=4",
        "optimizer=sgd", "optimizer.lr=choice(0.05, 50.0)", "data.batch_size=choice(50, 100)",
        "trainer.max_epochs=1", "logger=csv", f"hydra.sweep.dir={tmp_path}",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    statuses = [read_metrics(tmp_path / str(i))["status"] for i in range(4)]
    assert results["n_trials"] == 4
    assert results["n_failed"] == statuses.count("diverged") >= 1
    assert "ok" in statuses
    assert results["best_params"]["optimizer.lr"] == 0.05
    best = read_metrics(results["best_job_dir"])
    assert math.isclose(best["best"], results["best_value"])
    assert "optimizer.lr=0.05" in results["best_overrides"]
    assert (tmp_path / "best_config.yaml").is_file()
    assert "re-run it alone" in result.stdout + result.stderr
