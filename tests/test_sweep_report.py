"""A real small sweep under the joblib launcher, with ok, diverged and failed jobs, and its report."""

import csv
import json
import os
import shutil

import matplotlib.image
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from d2lab.report.write import main, newest_sweep, report
from tests.conftest import read_metrics, run_cli

# lr 50 diverges; batch size 0 is a config error, so those jobs fail before training.
GRID = ("optimizer.lr=0.02,0.1,50", "data.batch_size=100,0")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("joblib")
    cwd, sweep_dir = root / "cwd", root / "sweep"
    cwd.mkdir()
    result = run_cli(
        "-m", "d2lab.train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "data=airfoil",
        "trainer.max_epochs=2", *GRID, f"hydra.sweep.dir={sweep_dir}",
        cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(cwd.iterdir()) == []  # jobs write nothing outside the sweep folder
    return sweep_dir


def hparams_row(tensorboard_dir) -> tuple[dict, dict]:
    """The HParams plugin's view of one run (the one folder, named by its overrides, in `tensorboard_dir`): its
    hyperparameters and the last value of each scalar."""
    (run,) = tensorboard_dir.iterdir()
    events = EventAccumulator(str(run))
    events.Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    finals = {t: events.Scalars(t)[-1].value for t in events.Tags()["scalars"]}
    return hparams, finals


@pytest.mark.slow
def test_joblib_jobs_each_write_their_own_folder(sweep):
    statuses = {}
    for job in range(6):
        folder = sweep / str(job)
        assert (folder / ".hydra" / "overrides.yaml").is_file()
        statuses[job] = read_metrics(folder)["status"]
    assert statuses == {0: "ok", 1: "failed", 2: "ok", 3: "failed", 4: "diverged", 5: "failed"}
    for job in (0, 2):  # one TensorBoard HParams row per run, with that run's own lr and final loss
        hparams, finals = hparams_row(sweep / str(job) / "tensorboard")
        metrics = read_metrics(sweep / str(job))
        assert hparams["optimizer.lr"].number_value == {0: 0.02, 2: 0.1}[job]
        assert finals["val/loss"] == pytest.approx(metrics["val/loss"], rel=1e-6)


@pytest.mark.slow
def test_report_table_sorts_by_the_metric_and_marks_failures(sweep):
    paths = report(sweep)
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert len(rows) == 6
    assert [r["status"] for r in rows[:2]] == ["ok", "ok"]
    assert float(rows[0]["best val/loss"]) <= float(rows[1]["best val/loss"])
    assert sorted(r["status"] for r in rows[2:]) == ["diverged", "failed", "failed", "failed"]
    by_job = {r["job"]: r for r in rows}
    assert (by_job["4"]["optimizer.lr"], by_job["4"]["data.batch_size"]) == ("50", "100")
    assert "batch_size" in by_job["1"]["error"] and by_job["4"]["best val/loss"] == ""
    markdown = (sweep / "summary.md").read_text()
    assert "6 jobs: 2 ok, 1 diverged, 3 failed" in markdown
    assert markdown.count("**failed**") == 3 and "**diverged**" in markdown
    assert not (sweep / "groups.csv").exists() and not (sweep / "groups.md").exists()  # no seed repeats a job
    for name in ("loss_curves.png", "heatmap.png"):  # a full 3 x 2 grid gets its heat map
        assert sweep / name in paths
        height, width, _ = matplotlib.image.imread(sweep / name).shape
        assert height > 200 and width > 200


@pytest.mark.slow
def test_report_survives_a_job_that_crashed_before_writing_metrics(sweep, tmp_path, capsys):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    (copy / "2" / "metrics.json").unlink()  # as if the job's process had been killed
    main([str(copy)])
    rows = list(csv.DictReader((copy / "summary.csv").open()))
    crashed = next(r for r in rows if r["job"] == "2")
    assert len(rows) == 6 and crashed["status"] == "missing" and "crashed" in crashed["error"]
    assert [r["status"] for r in rows[:1]] == ["ok"]  # the one job left with a value leads
    assert "1 missing" in capsys.readouterr().out


@pytest.mark.slow
def test_report_names_what_ran_the_jobs_and_lists_it_per_job_where_it_differs(sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    report(copy)
    same = (copy / "summary.md").read_text()
    torch_version = read_metrics(copy / "0")["provenance"]["versions"]["torch"]
    assert "Every job ran with: git_commit " in same and f"torch {torch_version}" in same
    assert "differ in what ran them" not in same
    metrics = read_metrics(copy / "1")  # as if job 1 had been run again after an upgrade, from another checkout
    metrics["provenance"]["versions"]["torch"] = "9.9.9"
    metrics["provenance"]["git_commit"] = "0" * 40
    (copy / "1" / "metrics.json").write_text(json.dumps(metrics))
    report(copy)
    summary = (copy / "summary.md").read_text()
    assert "**The jobs differ in what ran them:** `git_commit`, `versions.torch`" in summary
    rows = {r["job"]: r for r in csv.DictReader((copy / "summary.csv").open())}
    assert rows["1"]["versions.torch"] == "9.9.9" and rows["0"]["versions.torch"] == torch_version
    assert rows["1"]["git_commit"] == "0" * 40 != rows["0"]["git_commit"]


def test_report_on_a_folder_without_jobs_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no job folder"):
        main([str(tmp_path)])


def test_report_defaults_to_the_newest_sweep(tmp_path):
    old, new = tmp_path / "a" / "multiruns" / "1", tmp_path / "b" / "multiruns" / "2"
    for age, folder in ((100, old), (0, new)):
        folder.mkdir(parents=True)
        os.utime(folder, (folder.stat().st_atime, folder.stat().st_mtime - age))
    assert newest_sweep(tmp_path) == new
    with pytest.raises(FileNotFoundError, match="no multirun folder"):
        newest_sweep(tmp_path / "nothing")


def test_val_scores_of_the_test_images_are_labelled_as_theirs():
    from d2lab.report.jobs import Job, validated_on
    from d2lab.report.plots import run_figure

    history = [{"epoch": 0, "step": 10, "examples": 256, "train/loss": 1.0, "val/loss": 1.1, "val/acc": 0.5}]
    legend = lambda fig: [t.get_text() for t in fig.axes[0].get_legend().get_texts()]  # noqa: E731
    tested = ["train/loss", "val/loss (test images)", "val/acc (test images)"]
    assert legend(run_figure(history, validate_on="test")) == tested
    assert legend(run_figure(history)) == ["train/loss", "val/loss", "val/acc"]
    job = lambda on: Job("0", None, {}, {"validate_on": on} if on else {})  # noqa: E731
    assert validated_on([job("test"), job("test")]) == "test"
    assert validated_on([job("test"), job("heldout")]) == "heldout"  # a sweep over both: its override column says
    assert validated_on([job("test"), job(None)]) == "heldout"  # with airfoil, or a job from before it was recorded


@pytest.mark.slow
def test_a_sweep_that_validated_on_the_test_images_says_so(sweep, tmp_path):
    from d2lab.results import Sweep

    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    for metrics_file in copy.glob("*/metrics.json"):  # as Fashion-MNIST jobs under data.validate_on=test record it
        metrics = json.loads(metrics_file.read_text())
        (metrics_file).write_text(json.dumps({**metrics, "validate_on": "test"}))
    report(copy)
    assert "their `val/` scores are the test images' scores" in (copy / "summary.md").read_text()
    by_epoch = Sweep(copy).plot().axes[0]
    assert by_epoch.get_ylabel() == "val/loss (test images)"
    (copy / "0" / "metrics.json").write_text(json.dumps({**read_metrics(copy / "0"), "validate_on": "heldout"}))
    report(copy)
    assert "test images" not in (copy / "summary.md").read_text()
