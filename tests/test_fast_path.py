"""Many optimizer steps per Lightning step is a speed-up only: the parameters equal a plain PyTorch loop's."""

import os
import subprocess
import sys

import lightning as L
import pytest
import torch

from d2lab.data.airfoil import Airfoil
from d2lab.models.linear import LinearNet


def plain_pytorch_epochs(batch_size: int, lr: float, epochs: int, seed: int) -> tuple[LinearNet, list[float]]:
    """The plain loop's final net, and each epoch's training loss averaged over examples."""
    torch.manual_seed(seed)
    net = LinearNet(in_features=5)
    datamodule = Airfoil(batch_size=batch_size, seed=seed, steps_per_call=1)
    datamodule.setup()
    loader = datamodule.train_dataloader()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    epoch_losses = []
    for _ in range(epochs):
        total = examples = 0
        for x, y in loader:
            optimizer.zero_grad()
            loss = 0.5 * torch.mean((net(x) - y) ** 2)
            loss.backward()
            optimizer.step()
            total, examples = total + loss.item() * len(y), examples + len(y)
        epoch_losses.append(total / examples)
    return net, epoch_losses


@pytest.mark.parametrize(
    ("batch_size", "lr", "steps_per_call"), [(1, 0.005, "auto"), (10, 0.05, 7), (100, 0.4, 1), (100, 0.4, "auto")]
)
def test_parameters_after_training_equal_the_plain_loop(train_cfg, batch_size, lr, steps_per_call):
    summary, _ = train_cfg(
        "data=airfoil",
        f"data.batch_size={batch_size}",
        f"data.steps_per_call={steps_per_call}",
        f"optimizer.lr={lr}",
        "trainer.max_epochs=2",
        "seed=7",
        "~logger",
        "callbacks=none",
    )
    w, b = plain_pytorch_epochs(batch_size, lr, epochs=2, seed=7)[0].weight_and_bias()
    assert summary["w"] == w.tolist() and summary["b"] == b.item()  # bit for bit


def test_logged_training_loss_weights_each_minibatch_by_its_size(train_cfg):
    # 1500 rows at batch 400: three minibatches of 400 and one of 300, run as calls of [400, 400, 400] and [300].
    summary, _ = train_cfg(
        "data=airfoil",
        "data.batch_size=400",
        "data.steps_per_call=3",
        "optimizer.lr=0.1",
        "trainer.max_epochs=2",
        "seed=7",
        "~logger",
        "callbacks=none",
    )
    expected = plain_pytorch_epochs(400, 0.1, epochs=2, seed=7)[1]
    logged = [h["train/loss"] for h in summary["history"]]
    assert logged == pytest.approx(expected, rel=1e-6)
    assert logged[0] != pytest.approx(sum(expected) / 2, rel=1e-3)  # the epochs differ: the check has teeth


def test_global_step_counts_every_optimizer_step(train_cfg, tmp_path):
    from d2lab.train import train
    from tests.conftest import compose_config

    cfg = compose_config(tmp_path, ["data=airfoil", "data.batch_size=100", "trainer.max_steps=20", "~logger"])
    summary = train(cfg, {})
    assert summary["epochs"] == 2  # 15 steps per epoch: max_steps=20 stops inside the second epoch


def test_bad_steps_per_call_is_refused(compose_cfg):
    from hydra.utils import instantiate

    from d2lab.errors import ConfigError

    cfg = compose_cfg("data.steps_per_call=0")
    with pytest.raises(Exception) as info:
        instantiate(cfg.data)
    assert isinstance(info.value.__cause__, ConfigError) and "data.steps_per_call=0" in str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize("srun_installed", [False, True])
def test_the_default_run_prints_no_library_warning(tmp_path, srun_installed):
    # `make train`: d2lab's own lines and the progress bar only. Where SLURM's srun is on PATH (outside a SLURM
    # job), Lightning would warn on every run; d2lab says the run is local instead.
    path = os.environ["PATH"]
    if srun_installed:
        (tmp_path / "bin").mkdir()
        srun = tmp_path / "bin" / "srun"
        srun.write_text("#!/bin/sh\nexit 0\n")
        srun.chmod(0o755)
        path = f"{tmp_path / 'bin'}:{path}"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS",) and not k.startswith("SLURM_")}
    result = subprocess.run(
        [sys.executable, "-m", "d2lab.train", f"hydra.run.dir={tmp_path}/run"],
        cwd=tmp_path, env={**env, "PATH": path}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "Warning" not in output and "warn" not in output.lower() and "srun" not in output
    assert "learned      w=" in output and "80/80" in output  # the bar counts optimizer steps


class CallLosses(L.Callback):
    """What each training call returned: its minibatches' losses, one per optimizer step; kept as their mean."""

    seen: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        CallLosses.seen.append(float(outputs["loss"].double().mean()))


def test_low_precision_training_still_logs_the_exact_mean_loss(train_cfg):
    # bf16 autocast would round a matmul of the losses; the meter sums in float64, which autocast leaves alone.
    CallLosses.seen = []
    summary, _ = train_cfg(
        "data=airfoil",
        "data.batch_size=100",  # 15 equal minibatches in one call: the epoch mean is the call's mean
        "trainer.max_epochs=2",
        "+trainer.precision=bf16-mixed",
        "~logger",
        "callbacks=none",
        f"+callbacks.call_losses._target_={__name__}.CallLosses",
    )
    logged = [h["train/loss"] for h in summary["history"]]
    assert len(CallLosses.seen) == 2
    assert logged == pytest.approx(CallLosses.seen, rel=1e-6)
