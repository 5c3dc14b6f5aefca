"""d2lab.run / d2lab.sweep / d2lab.load: the command line's configs, code path and folders, from Python."""

import logging
import shlex
import subprocess

import pandas as pd
import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from matplotlib.figure import Figure

import d2lab
from tests.conftest import REPO, read_metrics, run_cli

AIRFOIL = ("data=airfoil", "trainer.max_epochs=2", "~logger")


def test_run_twice_in_one_process_leaves_hydra_and_logging_as_they_were(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hydra_before, handlers_before = HydraConfig.instance().cfg, list(logging.getLogger().handlers)
    first = d2lab.run(*AIRFOIL, print_config=False)
    second = d2lab.run(*AIRFOIL, "optimizer.lr=0.1", seed=3, print_config=False)
    assert not GlobalHydra.instance().is_initialized()
    assert HydraConfig.instance().cfg is hydra_before and logging.getLogger().handlers == handlers_before

    assert first.dir != second.dir and first.dir.parent == second.dir.parent == tmp_path / "logs/train/runs"
    assert first.status == second.status == "ok"
    assert first.metrics == read_metrics(first.dir) and second.overrides["optimizer.lr"] == "0.1"
    assert second.config.seed == 3 and second.config.optimizer.lr == 0.1
    assert isinstance(first.history, pd.DataFrame) and list(first.history["epoch"]) == [0, 1]
    assert first.best == pytest.approx(first.history["val/loss"].min())
    assert first.best_checkpoint == first.dir / "checkpoints" / "best.ckpt"
    figure = first.plot()
    assert isinstance(figure, Figure) and [line.get_label() for line in figure.axes[0].lines] == [
        "train/loss",
        "val/loss",
    ]
    assert second.metrics["provenance"]["command"] == (
        "d2lab.run('data=airfoil', 'trainer.max_epochs=2', '~logger', 'optimizer.lr=0.1', 'seed=3', "
        "'print_config=false')"
    )


def test_the_same_job_from_python_and_from_the_command_line_ends_the_same(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_cli("-m", "d2lab.train", *AIRFOIL, f"hydra.run.dir={tmp_path}/cli", cwd=tmp_path)
    assert cli.returncode == 0, cli.stderr[-2000:]
    api = d2lab.run(*AIRFOIL, f"hydra.run.dir={tmp_path}/api")
    assert api.dir == tmp_path / "api"
    a, b = read_metrics(tmp_path / "cli"), api.metrics
    assert a["val/loss"] == b["val/loss"] and a["w"] == b["w"] and a["epochs"] == b["epochs"] == 2
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == sorted(p.name for p in api.dir.iterdir())

    # what produced it, in metrics.json
    record = a["provenance"]
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert record["git_commit"] == head.strip() and isinstance(record["git_dirty"], bool)
    assert set(record["versions"]) == {"d2lab", "torch", "lightning", "hydra-core", "python"}
    assert all(record["versions"].values()) and record["device"] == "cpu"
    assert record["command"] == shlex.join(["python", "-m", "d2lab.train", *AIRFOIL, f"hydra.run.dir={tmp_path}/cli"])
    # a single run prints its config tree and saves it; the live plot is off outside Jupyter (live_plot=null)
    tree = (tmp_path / "cli" / "config_tree.txt").read_text()
    assert "├── optimizer" in tree and "lr: 0.03" in tree and "├── data" in cli.stdout
    assert not (tmp_path / "cli" / "live_plot.png").exists()


@pytest.mark.parametrize(
    "overrides",
    [
        ("optimizer.lr=-1",),  # d2lab's own check
        ("trainer.max_epoch=2",),  # Hydra: no such key
        ("model=nope",),  # Hydra: no such choice
        ("data=airfoil", "trainer.max_epochs=1.5"),
        ("optimizer.lr=0.1,,",),  # Hydra's override grammar
    ],
)
def test_bad_input_raises_the_command_lines_paragraph(tmp_path, monkeypatch, overrides):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(d2lab.D2LabError) as raised:
        d2lab.run(*overrides, print_config=False)
    cli = run_cli("-m", "d2lab.train", *overrides, "print_config=false", cwd=tmp_path)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr
    message = str(raised.value).removeprefix("d2lab.run: ")
    assert message.splitlines()[0] in cli.stderr, (message, cli.stderr[-1500:])


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda: d2lab.run(3), "override 3 is a int"),
        (lambda: d2lab.run("-m", "data=airfoil"), "A sweep is d2lab.sweep(...)"),
        (lambda: d2lab.run("experiment=d2l_minibatch_sgd"), "composes a sweep"),
        (lambda: d2lab.run("live_plot=maybe"), "live_plot='maybe' is invalid: it must be true, false, or null"),
        (lambda: d2lab.load("no/such/folder"), "'no/such/folder' does not exist"),
        (lambda: d2lab.sweep("model=nope", quiet=True), "Could not find 'model/nope'"),
    ],
)
def test_misuse_from_python_gets_one_clear_d2laberror(tmp_path, monkeypatch, call, expected):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(d2lab.D2LabError, match=None) as raised:
        call()
    assert expected in str(raised.value)


def test_a_run_that_diverges_is_a_result_not_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = d2lab.run("data=airfoil", "optimizer.lr=1e6", "trainer.max_epochs=2", "~logger", print_config=False)
    assert run.status == "diverged" and "diverged" in repr(run)


@pytest.mark.slow
def test_sweep_returns_its_jobs_summary_and_seed_groups_and_load_reopens_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sweep = d2lab.sweep(*AIRFOIL, "optimizer.lr=0.01,0.1", "seed=0,1", quiet=True)
    assert sweep.dir.parent == tmp_path / "logs/train/multiruns"
    assert [job.dir.name for job in sweep.jobs] == ["0", "1", "2", "3"] and {j.status for j in sweep.jobs} == {"ok"}
    assert len(sweep.summary) == 4 and list(sweep.summary["best val/loss"]) == sorted(sweep.summary["best val/loss"])
    groups = sweep.groups
    assert list(groups["optimizer.lr"]) in (["0.01", "0.1"], ["0.1", "0.01"]) and list(groups["n"]) == [2, 2]
    lr = sweep.summary[sweep.summary["optimizer.lr"] == groups["optimizer.lr"][0]]
    assert groups["best/val/loss_mean"][0] == pytest.approx(lr["best val/loss"].mean())
    assert len(sweep.plot().axes) == 2
    again = d2lab.load(sweep.dir)
    assert isinstance(again, d2lab.Sweep) and again.summary.equals(sweep.summary)
    assert isinstance(d2lab.load(sweep.jobs[1].dir), d2lab.Run)
    assert (sweep.dir / "summary.md").name in [p.name for p in sweep.report()]


def test_provenance_is_null_outside_a_git_checkout(tmp_path):
    from d2lab.job.provenance import checkout_version

    assert checkout_version(tmp_path) == {"git_commit": None, "git_dirty": None}
    assert checkout_version(REPO)["git_commit"] is not None


def test_a_sweeps_jobs_do_not_print_their_config_tree(tmp_path):
    sweep = run_cli("-m", "d2lab.train", "-m", *AIRFOIL, "seed=0,1", f"hydra.sweep.dir={tmp_path}/s", cwd=tmp_path)
    assert sweep.returncode == 0 and "├── data" not in sweep.stdout
    assert not list((tmp_path / "s").glob("*/config_tree.txt"))


def test_early_stopping_is_lightnings_on_the_tasks_monitored_metric(tmp_path):
    done = run_cli("-m", "d2lab.train", "data=airfoil", "trainer.max_epochs=60", "~logger", "callbacks=early_stopping",
                   "callbacks.early_stopping.patience=2", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = read_metrics(tmp_path / "run")
    assert metrics["stopped_early"] is True and metrics["epochs"] == metrics["stopped_epoch"] + 1 < 60
    losses = [h["val/loss"] for h in metrics["history"]]
    best = losses.index(min(losses))
    assert len(losses) - 1 - best == 2  # stopped after `patience` validations without a new best


def test_live_plot_outside_a_notebook_redraws_a_png_in_the_run_folder_and_print_config_false_prints_none(tmp_path):
    done = run_cli("-m", "d2lab.train", *AIRFOIL, "live_plot=true", "print_config=false",
                   f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "live_plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "├── data" not in done.stdout and not (tmp_path / "run" / "config_tree.txt").exists()
