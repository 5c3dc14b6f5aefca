"""hydra/launcher=parallel keeps its forked workers for the whole sweep: the Optuna sweeper hands each new trial to
the next free worker (no pool per batch, no barrier between batches), and the grid's batches share the workers."""

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from d2lab.sweeps.optuna_study import open_storage
from tests.conftest import read_metrics, run_cli

REPO = Path(__file__).resolve().parents[1]
PARALLEL = ["hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "logger=csv", "trainer.max_epochs=2"]


def worker_pids(folders: list[Path]) -> set[int]:
    return {read_metrics(folder)["provenance"]["pid"] for folder in folders}


@pytest.mark.slow
def test_an_optuna_search_keeps_two_trials_running_on_the_same_two_workers(tmp_path):
    search = ["hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=7", *PARALLEL, f"hydra.sweep.dir={tmp_path}"]
    result = run_cli("-m", "d2lab.train", *search, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]

    study = optuna.load_study(study_name="airfoil_optuna", storage=open_storage(None, tmp_path))
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(7))  # n_trials is exact, also with an odd count
    assert all(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in trials)
    folders = [tmp_path / str(t.number) for t in trials]
    assert len(worker_pids(folders)) == 2  # four batches' worth of trials, one pair of workers
    assert result.stderr.count("Starting 2 worker processes") + result.stdout.count("Starting 2 worker processes") == 1

    # Run again with more trials: the study continues to the new total, on a fresh pair of workers.
    more = run_cli("-m", "d2lab.train", *search, "hydra.sweeper.n_trials=9", cwd=REPO)
    assert more.returncode == 0, more.stderr[-3000:]
    study = optuna.load_study(study_name="airfoil_optuna", storage=open_storage(None, tmp_path))
    assert len(study.get_trials()) == 9
    assert not worker_pids([tmp_path / "7", tmp_path / "8"]) & worker_pids(folders)

    # Run again at the same total: the study is full, so nothing runs and no worker is started.
    full = run_cli("-m", "d2lab.train", *search, "hydra.sweeper.n_trials=9", cwd=REPO)
    assert full.returncode == 0, full.stderr[-3000:]
    assert "Starting" not in full.stdout + full.stderr and len(study.get_trials()) == 9


@pytest.mark.slow
def test_a_grid_in_batches_runs_every_batch_on_the_same_workers(tmp_path):
    grid = ["data=airfoil", "seed=0,1,2,3,4", "hydra.sweeper.max_batch_size=2", *PARALLEL]
    grid.append(f"hydra.sweep.dir={tmp_path}")
    result = run_cli("-m", "d2lab.train", "-m", *grid, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    folders = [tmp_path / str(n) for n in range(5)]
    assert all(read_metrics(folder)["status"] == "ok" for folder in folders)
    assert len(worker_pids(folders)) == 2  # three batches, one pair of workers

    # The same sweep into the same folder again: every job finished, so nothing is launched.
    again = run_cli("-m", "d2lab.train", "-m", *grid, cwd=REPO)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Starting" not in again.stdout + again.stderr and len(list(tmp_path.glob("*/metrics.json"))) == 5
