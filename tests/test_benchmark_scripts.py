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
