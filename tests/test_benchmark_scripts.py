"""The overhead benchmark runs, and its numbers hang together: a run with no training work beats a real one."""

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))

import bench_overhead  # noqa: E402


def test_overhead_benchmark_measures_raw_d2lab_and_the_no_work_floor():
    (row,) = bench_overhead.measure([100], epochs=4, repeats=1)
    assert row["batch_size"] == 100 and row["epochs"] >= 4
    assert all(row[k] > 0 for k in ("raw_s", "d2lab_s", "one_step_per_call_s", "floor_s"))
    assert row["floor_s"] < row["d2lab_s"]  # 15 SGD steps cost something
    assert row["one_step_per_call_s"] > row["d2lab_s"]  # a Lightning step per optimizer step costs more
    assert "| 100 |" in bench_overhead.table([row])


def test_epoch_clock_gives_a_period_for_every_epoch_but_the_last():
    periods, summary = bench_overhead.d2lab_epoch_seconds(100, 4, 0)
    assert len(periods) == 3 and summary["epochs"] == 4  # the last epoch has no next start
    assert all(p > 0 for p in periods)


def test_sweeps_table_gives_each_ratio_its_verdict():
    import bench_sweeps

    runs = {name: {"wall": wall, "import_s": 4.0, "fit_s": 1.2, "fixed_s": 0.2, "in_process_s": 3.6, "threads": t}
            for name, wall, t in (("basic", 9.0, 2), ("joblib", 9.5, 1), ("parallel", 7.5, 1))}  # fmt: skip
    runs["basic"]["vs_ideal"] = 9.0 / 5.2
    for name in ("joblib", "parallel"):
        runs[name].update(vs_basic=runs[name]["wall"] / 9.0, vs_ideal=runs[name]["wall"] / 5.8)
    row = {"load": 0.5, "import_s": 4.0, "setup_s": 0.1, "n_jobs": 2, "jobs": 12, **runs}
    text = bench_sweeps.table([row])
    assert "| parallel wall / basic wall | **0.83** | 0.83–0.83 | < 1: met |" in text
    assert "| joblib wall / basic wall | **1.06** | 1.06–1.06 | < 1: MISSED |" in text
    assert "| basic wall / (import + Σ time/fit_s) | **1.73** | 1.73–1.73 | ≤ 1.6: MISSED |" in text
    assert "| parallel, n_jobs=2 | 7.50 |" in text
