"""The commands a user types, run as subprocesses: a real run, a real multirun, and clean failures."""

from pathlib import Path

import pytest

from tests.conftest import read_metrics, run_cli

pytestmark = pytest.mark.slow


def test_default_run_end_to_end(tmp_path):
    result = run_cli("-m", "d2lab.train", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "learned      w=[" in out and "closed form  w=[" in out
    run = tmp_path / "run"
    metrics = read_metrics(run)
    assert metrics["status"] == "ok" and metrics["epochs"] == 3
    assert metrics["w"] == pytest.approx([2.0, -3.4], abs=0.01) and metrics["b"] == pytest.approx(4.2, abs=0.01)
    assert (run / ".hydra" / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing written outside the run's folder


def test_multirun_keeps_going_past_a_diverged_job(tmp_path):
    # lr 1e-2 on raw thermometer inputs diverges (the book's case); lr 1e-4 trains.
    result = run_cli(
        "-m", "d2lab.train", "-m", "data=thermometer", "optimizer.lr=1e-2,1e-4", "trainer.max_epochs=40",
        f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted((tmp_path / "sweep").iterdir())
    jobs = [j for j in jobs if j.is_dir()]
    assert [j.name for j in jobs] == ["0", "1"]
    diverged, trained = read_metrics(jobs[0]), read_metrics(jobs[1])
    assert diverged["status"] == "diverged" and "optimizer.lr" in diverged["error"]
    assert trained["status"] == "ok" and trained["epochs"] == 40
    assert (jobs[1] / ".hydra" / "overrides.yaml").read_text().count("optimizer.lr=0.0001") == 1


def test_book_minibatch_sweep_reproduces_the_losses(tmp_path):
    result = run_cli(
        "-m", "d2lab.train", "experiment=d2l_minibatch_sgd", f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    losses = {}
    for job in sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir()):
        name = (job / ".hydra" / "overrides.yaml").read_text().split("+minibatch=")[1].split()[0]
        losses[name] = read_metrics(job)["val/loss"]
    assert set(losses) == {"gd", "sgd", "batch_10", "batch_100"}
    # The book prints 0.242–0.25. Full-batch GD at lr 1 sits at the edge of stability, so its final loss
    # depends on the initial w: 0.243–0.258 over ten seeds in a plain PyTorch loop.
    assert all(0.240 <= losses[k] <= 0.25 for k in ("sgd", "batch_10", "batch_100")), losses
    assert 0.240 <= losses["gd"] <= 0.26, losses


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer.lr=-0.1", "optimizer.lr=-0.1 is invalid"),
        ("data.batch_size=0", "data.batch_size=0 is invalid"),
        ("model=lenett", "Could not find 'model/lenett'"),
    ],
)
def test_bad_input_exits_non_zero_without_a_traceback(tmp_path: Path, override, message):
    result = run_cli("-m", "d2lab.train", override, f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
