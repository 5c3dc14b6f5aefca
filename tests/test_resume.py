"""Checkpoints and exact resume: a run killed with SIGKILL and resumed ends exactly like an uninterrupted one."""

import os
import signal
import subprocess
import sys
import time

import lightning as L
import pytest
import torch

from d2lab.job.checkpoints import AtomicCheckpointIO
from tests.conftest import REPO, read_metrics, run_cli

pytestmark = pytest.mark.slow

# Synthetic data, 80 optimizer steps per epoch (one per Lightning step), deterministic CPU.
RUN = ("data.steps_per_call=1", "trainer.max_epochs=3", "trainer.deterministic=true", "~logger")
COMPARED = ("w", "b", "train/loss", "val/loss", "test/loss", "best")


def train_run(tmp_path, name: str, *overrides: str) -> subprocess.CompletedProcess:
    os.environ["PYTHONPATH"] = str(REPO)  # the KillAt callback lives in tests/
    return run_cli("-m", "d2lab.train", *RUN, *overrides, f"hydra.run.dir={tmp_path}/{name}", cwd=tmp_path)


def same_run(a: dict, b: dict) -> None:
    assert {k: a[k] for k in COMPARED} == {k: b[k] for k in COMPARED}  # bit for bit
    assert [(h["train/loss"], h["val/loss"]) for h in a["history"]] == [
        (h["train/loss"], h["val/loss"]) for h in b["history"]
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The uninterrupted run both kill scenarios are compared with (snapshots do not change results)."""
    folder = tmp_path_factory.mktemp("reference")
    result = train_run(folder, "run", "callbacks.step_snapshot.every_n_train_steps=5")
    assert result.returncode == 0, result.stderr[-2000:]
    return read_metrics(folder / "run")


@pytest.mark.parametrize(
    ("where", "kill_step", "snapshot_every"),
    [("after an epoch", 85, 0), ("in the middle of an epoch", 103, 5)],
)
def test_sigkill_then_resume_matches_the_uninterrupted_run(tmp_path, reference, where, kill_step, snapshot_every):
    snapshots = f"callbacks.step_snapshot.every_n_train_steps={snapshot_every}"

    killed = train_run(tmp_path, "killed", snapshots, "+callbacks.kill._target_=tests.kill_at.KillAt",
                       f"+callbacks.kill.step={kill_step}")  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    saved_step = torch.load(last, weights_only=False)["global_step"]
    assert saved_step == (80 if snapshot_every == 0 else 100)

    resumed = train_run(tmp_path, "resumed", snapshots, f"ckpt_path={last}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    same_run(read_metrics(tmp_path / "resumed"), reference)


def test_ckpt_path_last_finds_the_newest_run(tmp_path):
    first = train_run(tmp_path, "logs/train/runs/first", "trainer.max_epochs=1")
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = train_run(tmp_path, "logs/train/runs/second", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = read_metrics(tmp_path / "logs/train/runs/second")
    assert [h["epoch"] for h in metrics["history"]] == [0, 1, 2]  # epoch 0 came from the first run


def test_a_kill_while_saving_leaves_the_previous_checkpoint_whole(tmp_path):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"step": 1, "w": torch.zeros(3)}, path)
    # A real process writes a ~400 MB checkpoint over it and is SIGKILLed mid-write.
    code = (
        "import torch, sys; from d2lab.job.checkpoints import AtomicCheckpointIO; "
        "AtomicCheckpointIO().save_checkpoint({'step': 2, 'w': torch.ones(100_000_000)}, sys.argv[1])"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(path)])
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".last.ckpt.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert writer.returncode == -signal.SIGKILL
    checkpoint = torch.load(path, weights_only=False)
    assert checkpoint["step"] == 1 and torch.equal(checkpoint["w"], torch.zeros(3))


def test_missing_checkpoint_is_named(tmp_path):
    result = train_run(tmp_path, "run", "ckpt_path=/no/such.ckpt")
    assert result.returncode == 1
    assert "ckpt_path='/no/such.ckpt': no such file" in result.stderr and "Traceback" not in result.stderr


def test_a_checkpoint_from_before_per_epoch_counts_still_resumes_exactly(tmp_path):
    # Until d2lab counted consumed batches per epoch, a checkpoint held one count over the whole run.
    from d2lab.train import train
    from tests.conftest import compose_config

    base = ["data=airfoil", "data.batch_size=100", "~logger", "seed=3"]
    whole = train(compose_config(tmp_path / "whole", [*base, "trainer.max_epochs=3"]), {})
    train(compose_config(tmp_path / "first", [*base, "trainer.max_epochs=2"]), {})
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    state = checkpoint["Airfoil"]
    assert state == {"epoch": 1, "consumed_batches": 15}  # minibatches: one grouped step of 15 per epoch
    checkpoint["Airfoil"] = {"consumed_batches": 2}  # the old form: two steps in the run so far
    torch.save(checkpoint, last)
    resumed = train(compose_config(tmp_path / "resumed", [*base, "trainer.max_epochs=3", f"ckpt_path={last}"]), {})
    assert resumed["w"] == whole["w"] and resumed["b"] == whole["b"]


class InterruptAt(L.Callback):
    """Ctrl-C in the middle of a grouped step: KeyboardInterrupt just before optimizer step `step` is taken."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step + 1 == self.step:
            raise KeyboardInterrupt


def test_ctrl_c_inside_a_grouped_step_resumes_exactly(tmp_path):
    # At batch 10 a grouped step holds a whole airfoil epoch of 150 optimizer steps; stop at step 220 of 450.
    from d2lab.job.record import guarded_run
    from d2lab.train import train
    from tests.conftest import compose_config

    base = ["data=airfoil", "~logger", "seed=5", "trainer.max_epochs=3"]
    whole = train(compose_config(tmp_path / "whole", base), {})
    cfg = compose_config(
        tmp_path / "cut", [*base, f"+callbacks.cut._target_={__name__}.InterruptAt", "+callbacks.cut.step=220"]
    )
    with pytest.raises(SystemExit):
        guarded_run(cfg, lambda record: train(cfg, record))
    interrupted = tmp_path / "cut" / "checkpoints" / "interrupted.ckpt"
    assert torch.load(interrupted, weights_only=True)["global_step"] == 219
    resumed = train(compose_config(tmp_path / "resumed", [*base, f"ckpt_path={interrupted}"]), {})
    assert resumed["w"] == whole["w"] and resumed["b"] == whole["b"]  # bit for bit
    assert resumed["steps"] == 450
    assert resumed["train/loss"] == pytest.approx(whole["train/loss"], rel=1e-12)
