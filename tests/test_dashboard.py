"""`make dashboard SWEEP=...`: optuna-dashboard serves a search's study, found from its sweep folder alone.

The tests start the dashboard as a user does, on a free port of 127.0.0.1, read the study back through the
HTTP API the dashboard's own page reads (`/api/studies`, `/api/studies/<id>`; optuna-dashboard does not document
it, so these tests pin its shape), compare it with the storage read by optuna directly, and stop exactly the
process they started.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend

from d2lab.sweeps.dashboard import main
from d2lab.sweeps.state import write_sweep_status
from tests.conftest import run_cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dashboard(sweep_dir: Path, cwd: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m d2lab.sweeps.dashboard <sweep_dir>` running; yields its base URL once its API answers."""
    port, log = free_port(), cwd / "dashboard.log"  # a file, not a pipe: its request log never blocks it
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "d2lab.sweeps.dashboard", str(sweep_dir), "--port", str(port)],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the dashboard exited ({proc.returncode}):\n{log.read_text()}"
            assert time.monotonic() < deadline, "the dashboard did not answer in 60 s"
            try:
                get(f"{url}/api/studies")
                break
            except OSError:  # not listening yet
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()  # exactly the process this test started
        proc.wait(timeout=30)


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def read_back(url: str, study: optuna.Study) -> None:
    """The dashboard's view of the study is optuna's: its name, its trials' numbers, states and values."""
    summaries = get(f"{url}/api/studies")["study_summaries"]
    (summary,) = [s for s in summaries if s["study_name"] == study.study_name]
    detail = get(f"{url}/api/studies/{summary['study_id']}")
    assert detail["name"] == study.study_name
    assert summary["directions"] == [study.direction.name.lower()]
    seen = [(t["number"], t["state"].upper(), t.get("values")) for t in detail["trials"]]
    expected = [(t.number, t.state.name, t.values) for t in study.get_trials(deepcopy=False)]
    assert seen == expected


@pytest.mark.slow
def test_the_dashboard_serves_a_real_searchs_journal(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m", "d2lab.train", "hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=3", "trainer.max_epochs=1",
        f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    journal = optuna.storages.JournalStorage(JournalFileBackend(str(sweep / "optuna.journal")))
    study = optuna.load_study(study_name="airfoil_optuna", storage=journal)
    assert len(study.trials) == 3

    with dashboard(sweep, cwd=tmp_path) as (url, proc):
        read_back(url, study)
        assert f"{url}/dashboard/studies/0" in (tmp_path / "dashboard.log").read_text()  # the URL it prints
    assert proc.returncode is not None  # stopped, and waited for


@pytest.mark.slow
def test_the_dashboard_serves_a_database_study(tmp_path):
    # An RDB storage (hydra.sweeper.storage=sqlite:///...), with a study written as the sweeper writes one.
    sweep, url = tmp_path / "sweep", f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="search", storage=url, direction="maximize")
    for value in (0.5, 0.75):
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-3, 1.0, log=True)})
        study.tell(trial, value)
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    write_sweep_status(sweep, "done", 3, study_name="search", storage=url)

    with dashboard(sweep, cwd=tmp_path) as (base, _):
        read_back(base, optuna.load_study(study_name="search", storage=url))


def refusal(capsys, *argv: str) -> str:
    """The paragraph `python -m d2lab.sweeps.dashboard <argv>` exits with (a message, so no traceback)."""
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    assert isinstance(exit_.value.code, str), "a refusal exits with its message, not a traceback"
    assert capsys.readouterr().out == ""  # refused before printing a URL
    return exit_.value.code


def test_a_folder_that_is_not_a_sweep_is_refused_with_what_is_valid(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    search = Path("logs/airfoil_optuna/multiruns/2026-01-01_00-00-00")
    write_sweep_status(search, "done", 3, study_name="airfoil_optuna", storage=None)
    write_sweep_status(Path("logs/grid/multiruns/2026-01-01_00-00-00"), "done", 4)  # not a search: not offered
    message = refusal(capsys, "logs/grid")
    assert "logs/grid is not a sweep folder" in message
    assert "hparams_search=" in message and "logs/<task_name>/multiruns/<stamp>" in message
    assert message.endswith(f"here: {search}.")  # the searches there are, and nothing else


def test_a_sweep_without_an_optuna_study_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_sweep_status(tmp_path, "done", 4)  # what a grid sweep writes
    message = refusal(capsys, str(tmp_path))
    assert "without an Optuna study" in message and "d2lab.report" in message


def test_a_search_whose_journal_is_gone_is_refused_without_creating_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_sweep_status(tmp_path, "done", 3, study_name="airfoil_optuna", storage=None)
    message = refusal(capsys, str(tmp_path))
    assert "airfoil_optuna" in message and "optuna.journal is gone" in message
    assert not (tmp_path / "optuna.journal").exists()


def test_without_the_extra_the_refusal_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # import optuna_dashboard raises ImportError
    message = refusal(capsys, str(tmp_path))
    assert "optuna-dashboard is not installed" in message and "'.[dashboard]'" in message
