"""Seeds and error bars in the report: jobs that differ only in `seed` form a group, with mean and std from
pandas, bands in the curves and mean ± std in the heat map; every job status is counted, and a sweep still
running is marked partial."""

import csv
import json
import os
import shutil
import statistics
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from d2lab.report import report
from d2lab.report_jobs import load_jobs
from d2lab.report_plots import group_series
from tests.conftest import read_metrics, run_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def seed_sweep(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seeds") / "sweep"
    result = run_cli(
        "-m", "d2lab.train", "-m", "data=airfoil", "optimizer=sgd,adam", "optimizer.lr=0.01,0.1", "seed=0,1",
        "trainer.max_epochs=2", "logger=csv", f"hydra.sweep.dir={folder}",
        cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


def groups_rows(folder: Path) -> list[dict]:
    return list(csv.DictReader((folder / "groups.csv").open()))


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.slow
def test_seeds_of_a_configuration_form_one_group_with_its_mean_and_std(seed_sweep):
    paths = report(seed_sweep)
    assert seed_sweep / "groups.csv" in paths and seed_sweep / "heatmap.png" in paths
    rows = groups_rows(seed_sweep)
    assert len(rows) == 4 and all(r["n"] == "2" and r["seeds"] == "0,1" for r in rows)
    means = [float(r["best/val/loss_mean"]) for r in rows]
    assert means == sorted(means)  # best first
    for row in rows:  # recomputed from the jobs' own metrics.json, without pandas
        bests = [
            read_metrics(job)["best"]
            for job in seed_sweep.glob("[0-9]*")
            if f"optimizer={row['optimizer']}\n" in (job / ".hydra" / "overrides.yaml").read_text().replace("- ", "")
            and f"optimizer.lr={row['optimizer.lr']}\n" in (job / ".hydra" / "overrides.yaml").read_text()
        ]
        assert len(bests) == 2
        assert float(row["best/val/loss_mean"]) == pytest.approx(statistics.mean(bests))
        assert float(row["best/val/loss_std"]) == pytest.approx(statistics.stdev(bests))
        assert "val/loss_mean" in row and "test/loss_std" in row
    markdown = (seed_sweep / "groups.md").read_text()
    assert markdown.count("±") >= 4 and "| optimizer | optimizer.lr | n |" in markdown
    assert "Seed groups" in (seed_sweep / "summary.md").read_text()


@pytest.mark.slow
def test_bands_are_std_from_three_seeds_and_min_max_below(seed_sweep):
    jobs = [j for j in load_jobs(seed_sweep) if j.overrides["optimizer"] == "sgd"]
    two = group_series(jobs, ["optimizer", "optimizer.lr"], "val/loss")
    assert len(two) == 2 and all("n=2" in s.label and "min-max" in s.label for s in two)
    for curve in two:
        low, high = curve.band
        assert all(lo <= m <= hi for lo, m, hi in zip(low, curve.values, high, strict=True))
    merged = [replace(j, overrides={**j.overrides, "optimizer.lr": "any"}) for j in jobs]  # 4 seeds of one group
    (four,) = group_series(merged, ["optimizer", "optimizer.lr"], "val/loss")
    assert "n=4" in four.label and "±1 std" in four.label
    last = [j.history[-1]["val/loss"] for j in merged]
    assert four.values[-1] == pytest.approx(statistics.mean(last))
    assert four.band[1][-1] - four.values[-1] == pytest.approx(statistics.stdev(last))


@pytest.mark.slow
def test_every_status_is_counted_per_group_and_a_running_sweep_is_partial(seed_sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(seed_sweep, copy)
    by_overrides = {
        (j.overrides["optimizer"], j.overrides["optimizer.lr"], j.overrides["seed"]): j for j in load_jobs(copy)
    }
    edits = {
        ("sgd", "0.01", "0"): {"status": "diverged", "error": "Training diverged"},
        ("sgd", "0.01", "1"): {"status": "pruned", "pruned_step": 150, "history": []},
        ("adam", "0.1", "0"): {"status": "running", "pid": dead_pid()},  # its process is gone: it crashed
        ("adam", "0.1", "1"): {"status": "running", "pid": os.getpid()},  # alive: still at work
    }
    for key, metrics in edits.items():
        metrics.setdefault("host", os.uname().nodename)
        (by_overrides[key].folder / "metrics.json").write_text(json.dumps(metrics))
    (copy / "sweep.json").write_text(json.dumps({"status": "running", "pid": os.getpid(), "jobs_planned": 10}))
    report(copy)
    rows = {(r["optimizer"], r["optimizer.lr"]): r for r in groups_rows(copy)}
    assert (rows["sgd", "0.01"]["n"], rows["sgd", "0.01"]["diverged"], rows["sgd", "0.01"]["pruned"]) == ("0", "1", "1")
    assert (rows["adam", "0.1"]["missing"], rows["adam", "0.1"]["running"], rows["adam", "0.1"]["n"]) == ("1", "1", "0")
    assert list(rows)[-2:] in ([("sgd", "0.01"), ("adam", "0.1")], [("adam", "0.1"), ("sgd", "0.01")])  # no value: last
    summary = (copy / "summary.md").read_text()
    assert "Still running: 6 of 10 jobs finished; these results are partial." in summary
    assert "8 jobs: 4 ok, 1 diverged, 1 pruned, 1 running, 1 missing." in summary
    statuses = {r["job"]: r["status"] for r in csv.DictReader((copy / "summary.csv").open())}
    assert sorted(statuses.values()).count("ok") == 4
