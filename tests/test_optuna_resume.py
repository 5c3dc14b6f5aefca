"""An Optuna search resumes: Ctrl-C and the same command again finishes it, to n_trials in total, with the
interrupted trial resumed in its own folder; a larger n_trials continues the study in new folders."""

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from d2lab.sweeps.optuna_study import open_storage
from tests.conftest import read_metrics, run_cli
from tests.test_sweep_resume import interrupt

REPO = Path(__file__).resolve().parents[1]
SEARCH = [
    "hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=6", "optimizer=sgd",
    "optimizer.lr=choice(0.003, 0.03, 0.1)", "data.batch_size=choice(50, 100)", "trainer.max_epochs=3",
    "logger=csv",
]  # fmt: skip


def search(folder: Path, *args: str):
    return run_cli("-m", "d2lab.train", *args, f"hydra.sweep.dir={folder}", cwd=REPO)


def study_in(folder: Path) -> optuna.Study:
    return optuna.load_study(study_name="airfoil_optuna", storage=open_storage(None, folder))


@pytest.mark.slow
def test_an_interrupted_search_finishes_with_the_same_command_and_continues_to_a_larger_total(tmp_path):
    reference = search(tmp_path / "reference", *SEARCH)
    assert reference.returncode == 0, reference.stderr[-3000:]
    cut = tmp_path / "cut"
    command = [*SEARCH, *interrupt(tmp_path, job=3, step=20)]
    first = search(cut, *command)
    assert first.returncode == 130, first.stderr[-3000:]
    states = [t.state for t in study_in(cut).get_trials()]
    assert states == [TrialState.COMPLETE] * 3 + [TrialState.RUNNING]
    assert read_metrics(cut / "3")["status"] == "interrupted"

    again = search(cut, *command)
    log = again.stdout + again.stderr
    assert again.returncode == 0, log[-3000:]
    assert "1 left running by a sweeper that stopped" in log and "ckpt_path=" in log
    trials = study_in(cut).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    whole = study_in(tmp_path / "reference").get_trials()
    assert trials[3].params == whole[3].params and trials[3].value == whole[3].value  # resumed exactly
    assert read_metrics(cut / "3")["steps"] == read_metrics(tmp_path / "reference" / "3")["steps"]
    stamps = {i: (cut / str(i) / "metrics.json").stat().st_mtime_ns for i in range(6)}

    more = search(cut, *[c.replace("n_trials=6", "n_trials=10") for c in command])
    assert more.returncode == 0, more.stderr[-3000:]
    assert "holds 6" in more.stdout + more.stderr
    trials = study_in(cut).get_trials()
    assert len(trials) == 10 and all(t.state == TrialState.COMPLETE for t in trials)
    assert {i: (cut / str(i) / "metrics.json").stat().st_mtime_ns for i in range(6)} == stamps  # none overwritten
    for trial in trials[6:]:  # each new trial's job is the folder with its number
        overrides = (cut / str(trial.number) / ".hydra" / "overrides.yaml").read_text()
        assert f"optimizer.lr={trial.params['optimizer.lr']}" in overrides
        assert read_metrics(cut / str(trial.number))["best"] == trial.value


@pytest.mark.slow
def test_a_search_with_a_storage_continues_its_study_in_a_new_folder_numbered_after_the_old_trials(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    short = [c.replace("n_trials=6", "n_trials=3") for c in SEARCH]
    first = search(tmp_path / "first", *short, f"hydra.sweeper.storage={storage}")
    assert first.returncode == 0, first.stderr[-3000:]
    longer = [c.replace("n_trials=6", "n_trials=5") for c in SEARCH]
    second = search(tmp_path / "second", *longer, f"hydra.sweeper.storage={storage}")
    assert second.returncode == 0, second.stderr[-3000:]
    trials = optuna.load_study(study_name="airfoil_optuna", storage=storage).get_trials()
    assert [t.number for t in trials] == list(range(5))
    assert sorted(p.name for p in (tmp_path / "second").glob("[0-9]*")) == ["3", "4"]
    assert sorted(p.name for p in (tmp_path / "first").glob("[0-9]*")) == ["0", "1", "2"]
