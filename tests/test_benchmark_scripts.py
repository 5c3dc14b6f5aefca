"""The overhead benchmark runs, and its numbers hang together: a run with no training work beats a real one."""

import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))

import bench_overhead  # noqa: E402


def test_overhead_benchmark_measures_raw_d2lab_and_the_no_work_floor():
    (row,) = bench_overhead.measure([100], epochs=8, repeats=3)  # medians: one noisy epoch cannot flip the order
    assert row["batch_size"] == 100 and row["epochs"] >= 4
    assert all(row[k] > 0 for k in ("raw_s", "d2lab_s", "one_step_per_call_s", "floor_s", "torch_optimizer_ratio"))
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
    assert "| basic wall / (import + Σ time/fit_s) | **1.73** | 1.73–1.73 | ≤ 1.4: MISSED |" in text
    assert "| joblib wall / (import + Σ in-process / 2) | **1.64** | 1.64–1.64 | - |" in text  # a retired target
    assert "| parallel wall / (import + Σ in-process / 2) | **1.29** | 1.29–1.29 | ≤ 1.25: MISSED |" in text
    assert "| parallel, n_jobs=2 | 7.50 |" in text


def test_the_books_own_code_draws_the_books_points_and_reaches_its_losses():
    import book_minibatch_sgd as book

    book.torch.manual_seed(0)
    _, losses = book.train_sgd(0.05, 10)  # minibatch 10, 2 epochs: n % 200 == 0 every 20 steps
    assert len(losses) == 15 and 0.235 < losses[-1] < 0.255  # the book prints 0.242-0.25
    _, losses = book.train_sgd(1, 1500, 10)  # GD: every 2 epochs
    assert len(losses) == 5


def test_the_book_cadence_table_puts_each_run_beside_the_books_code():
    import bench_book_cadence

    def result(wall: float, points: int) -> dict:
        return {"wall_s": wall, "points": dict.fromkeys(("gd", "sgd", "batch_10", "batch_100"), points),
                "loss": dict.fromkeys(("gd", "sgd", "batch_10", "batch_100"), 0.245)}  # fmt: skip

    text = bench_book_cadence.table({
        "the book's code": [result(4.0, 15), result(5.0, 15)],
        "d2lab, the book's cadence": [result(5.0, 17), result(5.0, 17)],
        "d2lab, one point per validation": [result(4.0, 2), result(5.0, 2)],
    })  # fmt: skip
    assert "| d2lab, the book's cadence | 5.00 s (5.00-5.00) | 1.25, 1.00 | 17, 17, 17, 17 |" in text
    assert text.endswith("The cadence against one point per validation, per repeat: 1.25, 1.00.")


def test_the_animator_table_compares_each_pair():
    import bench_train_points

    text = bench_train_points.table({"5": [(5.0, 10), (6.0, 10)], "null": [(5.0, 2), (5.0, 2)]})
    assert "| 5 times an epoch | 5.50 s (5.00-6.00) | 10 |" in text
    assert text.endswith("With against without, per pair: 1.00, 1.20; medians: 1.100.")


@pytest.mark.slow
def test_a_small_make_book_writes_the_gallery(tmp_path):
    from tests.conftest import run_cli
    from tests.fashion_idx import write_fake_fashion_mnist

    write_fake_fashion_mnist(tmp_path / "data", n_train=1200, n_test=200)
    out = tmp_path / "docs" / "book.md"
    done = run_cli(str(REPO / "scripts" / "book.py"), "--quick", "--only", "minibatch_sgd", "batch_norm",
                   "--data-dir", str(tmp_path / "data"), "--out", str(out), cwd=tmp_path, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    gallery = out.read_text()
    assert "| [12.5](https://d2l.ai/chapter_optimization/minibatch-sgd.html) | Minibatch SGD" in gallery
    assert "gd 0." in gallery and "batch_100 0." in gallery and "| 0.242-0.25 |" in gallery
    assert "experiment=d2l_minibatch_sgd_seeds" in gallery and " ± 0." in gallery and "over 2 seeds" in gallery
    assert "| [8.5.4](https://d2l.ai/chapter_convolutional-modern/batch-norm.html) | BN-LeNet" in gallery
    assert "`python -m d2lab.train experiment=d2l_batch_norm data.validate_on=test test_ckpt=last` (" in gallery
    assert "The gallery runs the book's protocol" in gallery
    assert "not run here: `python -m d2lab.train experiment=d2l_resnet trainer=gpu`" in gallery
    for name in ("minibatch_sgd", "batch_norm"):
        assert f"img/book/{name}.png)" in gallery
        assert (tmp_path / "docs" / "img" / "book" / f"{name}.png").stat().st_size > 10_000


def test_the_job_floor_table_gives_each_level_its_cost_beyond_fit():
    import bench_job_floor

    def run(wall: float, fit: float) -> dict:
        return {"wall": wall, "import_s": 2.0, "jobs": [{"fit_s": fit / 4}] * 4}

    runs = {name: [run(3.0, 0.0), run(3.2, 0.0)] for name in bench_job_floor.LEVELS}
    runs["d2lab"] = [run(3.4, 0.4), run(3.4, 0.4)]
    text = bench_job_floor.table(runs)
    assert "| Hydra alone (the job returns at once) | 3.10 | 2.00 | 0.00 | 275 |" in text
    assert "| d2lab | 3.40 | 2.00 | 0.40 | 250 |" in text
    assert "leaves a d2lab job 240 ms beyond its fit" in text  # 0.4 × (2.0 + 0.4) / 4


@pytest.mark.slow
def test_the_floor_app_fits_tests_and_checkpoints_as_a_hydra_job(tmp_path):
    import json

    from tests.conftest import run_cli

    done = run_cli(str(REPO / "scripts" / "job_floor_app.py"), "-m", "+parts=hydra,checkpoints", "+epochs=2",
                   f"hydra.sweep.dir={tmp_path}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    alone, fitted = (json.loads((tmp_path / str(job) / "metrics.json").read_text()) for job in (0, 1))
    assert "time/fit_s" not in alone and fitted["time/fit_s"] > 0
    assert {p.name for p in (tmp_path / "1" / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}


def test_trial_storage_benchmark_times_both_ways_at_each_size():
    import bench_trial_storage

    rows = bench_trial_storage.measure([3, 6], repeats=1)
    assert [r["trials"] for r in rows] == [3, 6]
    assert all(r["reopened"] > 0 and r["shared"] > 0 for r in rows)
    assert "| 6 |" in bench_trial_storage.table(rows)
