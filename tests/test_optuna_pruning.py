"""Optuna pruning: every trial reports its monitored metric at each validation, and a trial the pruner stops
ends at once, recorded as PRUNED in the study and as `pruned` in its metrics.json; in the sweeper's process
(basic launcher) and in other processes (joblib's, and the parallel launcher's forked ones), through the study's
journal."""

from pathlib import Path

import matplotlib.image
import optuna
import pandas
import pytest
import yaml
from optuna.trial import TrialState

from d2lab.report.study import study_plots
from d2lab.sweeps.optuna_study import open_storage
from tests.conftest import read_metrics, run_cli

REPO = Path(__file__).resolve().parents[1]
SEARCH = [
    "hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=6", "hydra/sweeper/pruner=successive_halving",
    "optimizer=sgd", "optimizer.lr=choice(0.0003, 0.003, 0.1)", "data.batch_size=choice(50, 100)",
    "trainer.max_epochs=4", "logger=csv",
]  # fmt: skip


def search(folder: Path, *args: str):
    result = run_cli("-m", "d2lab.train", *SEARCH, *args, f"hydra.sweep.dir={folder}", cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    return optuna.load_study(study_name="airfoil_optuna", storage=open_storage(None, folder))


def check_trials_match_their_jobs(study: optuna.Study, folder: Path) -> list[optuna.trial.FrozenTrial]:
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(6))
    for trial in trials:
        metrics = read_metrics(folder / str(trial.number))
        assert trial.intermediate_values, f"trial {trial.number} reported nothing"
        validations = sorted(trial.intermediate_values)
        assert validations == list(range(1, len(validations) + 1))  # the step is the validation's number
        if trial.state == TrialState.PRUNED:
            assert metrics["status"] == "pruned" and metrics["pruned_validation"] == validations[-1] < 4
            assert metrics["pruned_step"] > 0 and len(metrics["history"]) == validations[-1]
            assert trial.value == metrics["pruned_value"] == trial.intermediate_values[validations[-1]]
        else:
            assert trial.state == TrialState.COMPLETE and metrics["status"] == "ok" and validations[-1] == 4
            assert trial.value == metrics["best"]
            assert trial.intermediate_values[4] == pytest.approx(metrics["val/loss"])
    return [t for t in trials if t.state == TrialState.PRUNED]


@pytest.mark.slow
def test_a_pruned_search_stops_hopeless_trials_in_the_sweepers_process(tmp_path):
    study = search(tmp_path)
    pruned = check_trials_match_their_jobs(study, tmp_path)
    assert pruned, "successive halving pruned none of 6 trials"
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["n_pruned"] == len(pruned) and results["n_trials"] == 6

    images = study_plots(tmp_path)
    names = {p.name for p in images}
    assert {"optuna_trials.png", "optuna_history.png", "optuna_importances.png", "optuna_parallel.png"} <= names
    assert all(matplotlib.image.imread(p).shape[0] > 100 for p in images)
    table = pandas.read_csv(tmp_path / "optuna_trials.csv")
    assert list(table["state"]) == [t.state.name for t in study.get_trials()]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "parallel"])
def test_trials_in_worker_processes_report_and_are_pruned_through_the_journal(tmp_path, launcher):
    study = search(tmp_path, f"hydra/launcher={launcher}", "hydra.launcher.n_jobs=2")
    pruned = check_trials_match_their_jobs(study, tmp_path)
    assert pruned, "successive halving pruned none of 6 trials"
