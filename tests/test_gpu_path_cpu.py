"""The GPU path's switches, checked on a CPU: `task.compile` trains, and channels_last changes no result."""

import math

import pytest

from tests.fashion_idx import write_fake_fashion_mnist

# A short run on tiny IDX data: 2 epochs of 3 batches of 16, no validation or test, so a compile happens once.
SHORT = (
    "data=fashion_mnist",
    "data.batch_size=16",
    "data.val_fraction=0",
    "model=lenet",
    "model.norm=none",  # the fewest kernels to compile: a cold torch.compile is most of this test's time
    "trainer.max_epochs=2",
    "+trainer.limit_val_batches=0",
    "test=false",
    "~logger",
    "callbacks=none",
    "trainer.enable_checkpointing=false",
)


def test_compiled_net_trains_on_cpu(train_cfg, tmp_path) -> None:
    pytest.importorskip("torch._inductor")
    write_fake_fashion_mnist(tmp_path / "data", n_train=48)
    summary, cfg = train_cfg(*SHORT, "task.compile=true")
    assert cfg.task.compile is True
    losses = [h["train/loss"] for h in summary["history"]]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses), losses


def test_channels_last_is_a_no_op_for_results_on_cpu(train_cfg, tmp_path) -> None:
    """trainer=gpu on the CPU, fp32, with and without its ChannelsLast callback: the same losses."""
    write_fake_fashion_mnist(tmp_path / "data", n_train=48)
    cpu_gpu_config = ("trainer=gpu", "trainer.accelerator=cpu", "trainer.precision=32-true", "trainer.benchmark=false")
    with_cl, cfg = train_cfg(*SHORT, *cpu_gpu_config)
    assert cfg.callbacks.channels_last._target_.endswith("ChannelsLast")  # the callback really ran in this one
    without_cl, cfg = train_cfg(*SHORT, *cpu_gpu_config, "~callbacks.channels_last")
    assert "channels_last" not in cfg.callbacks
    for a, b in zip(with_cl["history"], without_cl["history"], strict=True):
        # NHWC convolutions may sum in another order: equal up to float rounding, not bit for bit
        assert math.isclose(a["train/loss"], b["train/loss"], rel_tol=1e-4), (a, b)
        assert math.isclose(a["train/acc"], b["train/acc"], abs_tol=1e-6), (a, b)
