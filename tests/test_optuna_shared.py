"""A search shared by many workers: three sweeper processes on one Optuna journal complete exactly n_trials,
each trial run once, asynchronously (a worker asks for its next trial as soon as its last one ends)."""

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from d2lab.sweeps.optuna_study import open_storage
from tests.conftest import read_metrics

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_three_workers_on_one_journal_complete_exactly_n_trials(tmp_path):
    journal = tmp_path / "study.journal"
    command = [
        sys.executable, "-m", "d2lab.train", "hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=9",
        "trainer.max_epochs=1", "logger=csv", f"hydra.sweeper.storage={journal}", "optimizer=sgd",
        "optimizer.lr=tag(log, interval(0.001, 0.1))",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    workers = [
        subprocess.Popen([*command, f"hydra.sweep.dir={tmp_path / f'worker{i}'}"], cwd=REPO, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for i in range(3)
    ]  # fmt: skip
    for worker in workers:
        _, stderr = worker.communicate(timeout=600)
        assert worker.returncode == 0, stderr[-3000:]
    trials = optuna.load_study(study_name="airfoil_optuna", storage=open_storage(str(journal), tmp_path)).trials
    assert [t.number for t in trials] == list(range(9))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    folders = sorted(p for w in tmp_path.glob("worker*") for p in w.glob("[0-9]*"))
    assert sorted(int(p.name) for p in folders) == list(range(9))  # each trial ran once, in one worker
    assert len({p.parent for p in folders}) >= 2  # the work was shared
    for folder in folders:
        assert read_metrics(folder)["best"] == trials[int(folder.name)].value
