"""Seeds and error bars in the report: jobs that differ only in `seed` form a group, with mean and std from
pandas, bands in the curves and mean ± std in the heat map; every job status is counted, and a sweep still
running is marked partial."""

import csv
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from d2lab.report.groups import group_table, has_groups, in_group_order
from d2lab.report.jobs import Job, load_jobs
from d2lab.report.plots import cell_text, grid_keys, group_series, plot_heatmap
from d2lab.report.write import report
from tests.conftest import read_metrics, run_cli


@pytest.fixture(scope="module")
def seed_sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seeds")
    cwd, folder = root / "cwd", root / "sweep"
    cwd.mkdir()
    result = run_cli(
        "-m", "d2lab.train", "-m", "data=airfoil", "optimizer=sgd,adam", "optimizer.lr=0.01,0.1", "seed=0,1",
        "trainer.max_epochs=2", "logger=csv", f"hydra.sweep.dir={folder}",
        cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(cwd.iterdir()) == []
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
    by_configuration: dict[tuple, list[dict]] = {}  # the jobs' own files, read without the report or pandas
    for job in seed_sweep.glob("[0-9]*"):
        overrides = dict(o.split("=", 1) for o in yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()))
        by_configuration.setdefault((overrides["optimizer"], overrides["optimizer.lr"]), []).append(read_metrics(job))
    for row in rows:
        records = by_configuration[row["optimizer"], row["optimizer.lr"]]
        bests = [m["best"] for m in records]
        assert len(bests) == 2
        assert float(row["test/loss_mean"]) == pytest.approx(statistics.mean(m["test/loss"] for m in records))
        assert float(row["best/val/loss_mean"]) == pytest.approx(statistics.mean(bests))
        assert float(row["best/val/loss_std"]) == pytest.approx(statistics.stdev(bests))
        assert "val/loss_mean" in row and "test/loss_std" in row
    markdown = (seed_sweep / "groups.md").read_text()
    assert markdown.count("±") >= 4 and "| optimizer | optimizer.lr | n |" in markdown
    assert "Groups: jobs that differ only in `seed`" in (seed_sweep / "summary.md").read_text()


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
    # A seed that stopped after its first epoch: the group's curve keeps only the epoch every seed reached.
    short_run = replace(merged[0], metrics={**merged[0].metrics, "history": merged[0].history[:1]})
    (aligned,) = group_series([short_run, *merged[1:]], ["optimizer", "optimizer.lr"], "val/loss")
    assert aligned.epochs == [1.0] and four.epochs == [1.0, 2.0]
    assert aligned.values[0] == pytest.approx(statistics.mean(j.history[0]["val/loss"] for j in merged))


@pytest.mark.slow
def test_heat_map_cells_are_group_means_with_their_std_and_the_legend_follows_groups_md(seed_sweep):
    jobs = load_jobs(seed_sweep)
    cell = [j for j in jobs if (j.overrides["optimizer"], j.overrides["optimizer.lr"]) == ("adam", "0.01")]
    value, text = cell_text(cell)
    bests = [j.metrics["best"] for j in cell]
    assert value == pytest.approx(statistics.mean(bests))
    assert text == f"{statistics.mean(bests):.4g}\n±{statistics.stdev(bests):.2g}"
    assert cell_text(cell[:1])[1] == f"{bests[0]:.4g}"  # one seed: no ±
    keys = ["optimizer", "optimizer.lr"]
    table = group_table(jobs, [*keys, "seed"], "val/loss", "min", [])
    labels = [s.label for s in group_series(in_group_order(jobs, table, keys), keys, "val/loss")]
    expected = [f"optimizer={o} lr={lr} " for o, lr in zip(table["optimizer"], table["optimizer.lr"], strict=True)]
    assert [label.split("(")[0] for label in labels] == expected


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
        metrics.setdefault("host", socket.gethostname())
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
    rows = {r["job"]: r for r in csv.DictReader((copy / "summary.csv").open())}
    assert [r["status"] for r in rows.values()].count("ok") == 4
    crashed = rows[by_overrides["adam", "0.1", "0"].name]
    assert crashed["status"] == "missing" and "process died" in crashed["error"]
    assert "**pruned**" in summary and "**running**" in summary


def fake_job(name: str, overrides: dict[str, str], status: str = "ok", best: float | None = None) -> Job:
    metrics = {"status": status, "monitor": "val/acc", "mode": "max"}
    if best is not None:
        metrics.update(best=best, **{"val/acc": best})
    return Job(name, Path(name), overrides, metrics)


def test_groups_of_a_metric_to_maximize_come_best_first_and_unfinished_ones_last():
    jobs = [
        fake_job("0", {"lr": "0.1", "seed": "0"}, best=0.5),
        fake_job("1", {"lr": "0.1", "seed": "1"}, best=0.7),
        fake_job("2", {"lr": "1", "seed": "0"}, "diverged"),
        fake_job("3", {"lr": "1", "seed": "1"}, "interrupted"),
        fake_job("4", {"lr": "0.01", "seed": "0"}, best=0.8),
        fake_job("5", {"lr": "0.01", "seed": "1"}, "failed"),
    ]
    table = group_table(jobs, ["lr", "seed"], "val/acc", "max", ["val/acc"])
    assert list(table["lr"]) == ["0.01", "0.1", "1"]
    assert list(table["n"]) == [1, 2, 0] and list(table["failed"]) == [1, 0, 0]
    assert list(table["interrupted"]) == [0, 0, 1] and list(table["diverged"]) == [0, 0, 1]
    assert table["best/val/acc_mean"].iloc[1] == pytest.approx(0.6)
    assert table["val/acc_std"].iloc[1] == pytest.approx(statistics.stdev([0.5, 0.7]))
    assert math.isnan(table["best/val/acc_std"].iloc[0])  # one seed: no spread to show
    assert has_groups(jobs, ["lr", "seed"])
    one_seed_each = [fake_job(str(i), {"lr": lr, "seed": str(i)}, best=0.5) for i, lr in enumerate(("0.1", "1"))]
    assert not has_groups(one_seed_each, ["lr", "seed"]) and not has_groups(jobs, ["lr"])


def test_a_half_written_or_dead_running_metrics_json_reads_as_missing_and_a_live_one_as_running(tmp_path):
    records = {
        "0": '{"status": "ok", "best": 0.2',  # cut off mid-write
        "1": json.dumps({"status": "running", "pid": dead_pid(), "host": socket.gethostname()}),
        "2": json.dumps({"status": "running", "pid": os.getpid(), "host": socket.gethostname()}),
        "3": "[]",
    }
    for name, text in records.items():
        (tmp_path / name / ".hydra").mkdir(parents=True)
        (tmp_path / name / ".hydra" / "overrides.yaml").write_text(f"- seed={name}\n")
        (tmp_path / name / "metrics.json").write_text(text)
    assert [j.status for j in load_jobs(tmp_path)] == ["missing", "missing", "running", "missing"]
    assert "half-written" in load_jobs(tmp_path)[0].metrics["error"]


def test_a_folder_holding_two_sweeps_one_without_a_key_still_gets_its_groups_and_heat_map(tmp_path):
    # Re-running a preset into its folder with one more override (say logger=csv) adds jobs without the key's
    # twin in the first ones: "" stands for "not set", in the groups and on the heat map's axis.
    jobs = [
        fake_job(str(i), {"opt": opt, "seed": seed, **({"logger": "csv"} if i >= 4 else {})}, best=0.1 * i + 0.1)
        for i, (opt, seed) in enumerate([(o, s) for o in ("sgd", "adam") for s in ("0", "1")] * 2)
    ]
    varying = ["opt", "seed", "logger"]
    assert grid_keys(jobs, varying) == ("opt", "logger")
    assert plot_heatmap(jobs, ("opt", "logger"), "val/acc", "max", tmp_path / "heatmap.png").is_file()
    table = group_table(jobs, varying, "val/acc", "max", [])
    assert sorted(zip(table["opt"], table["logger"], strict=True)) == [
        ("adam", ""), ("adam", "csv"), ("sgd", ""), ("sgd", "csv")
    ]  # fmt: skip
    assert list(table["n"]) == [2, 2, 2, 2]
