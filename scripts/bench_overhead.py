"""Framework overhead: d2lab's Lightning training of LinearNet on airfoil against a hand-written loop.

Both do the same optimizer steps on the same data (same shuffles, same batches, same lr); the figure is
seconds per training epoch, the median over epochs and repeats. d2lab's epoch is timed from the outside, from
one `on_train_epoch_start` to the next, so all of Lightning's per-epoch work counts; validation, which the raw loop
does not do, is off (`limit_val_batches=0`). For scale, the table also times a bare LightningModule: the raw
loop's steps on the bare torch optimizer inside one `training_step`, nothing counted or logged, the least any
LightningModule can cost here, and d2lab's run on the bare torch optimizer: what Lightning's optimizer wrapper costs.

    python scripts/bench_overhead.py --batch-sizes 1 10 100
"""

import argparse
import math
import statistics
import tempfile
import time
import warnings

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from d2lab.data.airfoil import Airfoil
from d2lab.models.linear import LinearNet
from d2lab.tasks.regression import RegressionTask

LR = {1: 0.005, 10: 0.05, 100: 0.4}  # the book's airfoil learning rates


class EpochClock(Callback):
    """Wall seconds per training epoch, from one epoch's start to the next."""

    periods: list[float] = []  # the last run's, read by d2lab_epoch_seconds

    def __init__(self) -> None:
        EpochClock.periods = []
        self._start: float | None = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        now = time.perf_counter()
        if self._start is not None:
            EpochClock.periods.append(now - self._start)
        self._start = now


class BareModule(L.LightningModule):
    """The raw loop's steps for a whole epoch in one training step, on the bare torch optimizer: no metrics, no
    history, and `global_step` left at 0. What Lightning's own epoch loop costs, and nothing else."""

    def __init__(self, lr: float) -> None:
        super().__init__()
        self.net = LinearNet(in_features=5)
        self.lr = lr
        self.automatic_optimization = False

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def training_step(self, batch, batch_idx: int) -> None:
        optimizer, net = self.optimizers().optimizer, self.net
        for x, y in batch:
            optimizer.zero_grad()
            loss = 0.5 * torch.mean((net(x) - y) ** 2)
            loss.backward()
            optimizer.step()


def bare_epoch_seconds(batch_size: int, epochs: int, seed: int = 0) -> float:
    from d2lab.job.record import quiet_lightning

    quiet_lightning()
    torch.manual_seed(seed)
    datamodule = Airfoil(batch_size=batch_size, seed=seed, steps_per_call="auto")
    trainer = L.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[EpochClock()],
    )
    trainer.fit(BareModule(LR.get(batch_size, 0.05)), datamodule=datamodule)
    return statistics.median(EpochClock.periods[1:])


class NoWorkTask(RegressionTask):
    """The same run with a training step that does nothing: what an epoch costs before any training work
    (Lightning's loop and hooks, d2lab's epoch-end metrics, and the batch slicing the raw loop also does)."""

    def fit_minibatches(self, batch) -> None:
        return None


class TorchOptimizerTask(RegressionTask):
    """The same run with its steps on the bare torch optimizer (`optimizers(use_pl_optimizer=False)`, Lightning's
    public switch): what Lightning's optimizer wrapper costs, the wrapper that counts `global_step` (left at 0
    here) and calls the optimizer hooks. For measurement only: d2lab itself needs the count."""

    def optimizers(self, use_pl_optimizer: bool = True) -> torch.optim.Optimizer:
        return super().optimizers(use_pl_optimizer=False)


def raw_epoch_seconds(batch_size: int, epochs: int, seed: int = 0) -> tuple[list[float], LinearNet]:
    """A plain PyTorch loop: the book's minibatch SGD on airfoil, timed per epoch."""
    torch.manual_seed(seed)
    datamodule = Airfoil(batch_size=batch_size, seed=seed, steps_per_call=1)
    datamodule.setup()
    loader = datamodule.train_dataloader()
    net = LinearNet(in_features=5)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR.get(batch_size, 0.05))
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, y in loader:
            optimizer.zero_grad()
            loss = 0.5 * torch.mean((net(x) - y) ** 2)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times, net


def d2lab_epoch_seconds(batch_size: int, epochs: int, seed: int = 0, *overrides: str) -> tuple[list[float], dict]:
    """d2lab's own entry point (composed config, Lightning Trainer), with logging and checkpoints off."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    import d2lab.resolvers  # noqa: F401
    from d2lab.paths import config_dir
    from d2lab.train import train

    warnings.filterwarnings("ignore")
    GlobalHydra.instance().clear()
    args = [
        "data=airfoil",
        f"data.batch_size={batch_size}",
        f"optimizer.lr={LR.get(batch_size, 0.05)}",
        f"trainer.max_epochs={epochs}",
        "trainer.enable_progress_bar=false",
        f"seed={seed}",
        "~logger",
        "callbacks=none",
        "trainer.enable_checkpointing=false",
        "+trainer.limit_val_batches=0",  # the raw loop does not validate: neither does d2lab here
        "test=false",
        f"+callbacks.epoch_clock._target_={__name__}.EpochClock",
        *overrides,
    ]
    with initialize_config_dir(version_base="1.3", config_dir=config_dir()):
        cfg = compose(config_name="train", overrides=args, return_hydra_config=True)
    with tempfile.TemporaryDirectory() as out, open_dict(cfg):
        cfg.paths.output_dir = cfg.hydra.runtime.output_dir = out
        HydraConfig.instance().set_config(cfg)
        summary = train(cfg, {})
    return list(EpochClock.periods), summary  # epochs 1..n-1: the last one has no next start


def d2lab_median_epoch(batch_size: int, epochs: int, seed: int, *overrides: str) -> float:
    return statistics.median(d2lab_epoch_seconds(batch_size, epochs, seed, *overrides)[0][1:])


def epochs_for(batch_size: int, epochs: int, seconds: float = 0.5) -> int:
    """At least `epochs`, and enough that a repeat times about `seconds` of raw work: an epoch at batch 100 is
    ~10 ms on a small CPU, where a few epochs would leave the median to the machine's noise. At most 60."""
    per_epoch = statistics.median(raw_epoch_seconds(batch_size, 3)[0][1:])
    return max(epochs, min(60, math.ceil(seconds / per_epoch) + 2))


def measure(batch_sizes: list[int], epochs: int, repeats: int) -> list[dict]:
    """Per batch size: seconds per epoch (median over repeats of each repeat's median) and the ratio to the raw
    loop, taken within each repeat (the two run back to back, so the machine's drift cancels), median and range."""
    rows = []
    for batch_size in batch_sizes:
        n = epochs_for(batch_size, epochs)
        raw, ours, plain, floor, bare, unwrapped = [], [], [], [], [], []
        for repeat in range(repeats):
            # The raw loop's first epoch warms up; d2lab's periods already start at the second.
            raw.append(statistics.median(raw_epoch_seconds(batch_size, n, seed=repeat)[0][1:-1]))
            ours.append(d2lab_median_epoch(batch_size, n, repeat))
            plain.append(d2lab_median_epoch(batch_size, n, repeat, "data.steps_per_call=1"))
            floor.append(d2lab_median_epoch(batch_size, n, repeat, f"task._target_={__name__}.NoWorkTask"))
            bare.append(bare_epoch_seconds(batch_size, n, seed=repeat) / raw[-1])
            torch_optimizer = f"task._target_={__name__}.TorchOptimizerTask"
            unwrapped.append(d2lab_median_epoch(batch_size, n, repeat, torch_optimizer) / raw[-1])
        ratios = [o / r for o, r in zip(ours, raw, strict=True)]
        rows.append(
            {
                "batch_size": batch_size,
                "epochs": n,
                "raw_s": statistics.median(raw),
                "d2lab_s": statistics.median(ours),
                "one_step_per_call_s": statistics.median(plain),
                "floor_s": statistics.median(floor),
                "ratio": statistics.median(ratios),
                "ratio_range": (min(ratios), max(ratios)),
                "one_step_ratio": statistics.median(p / r for p, r in zip(plain, raw, strict=True)),
                "bare_ratio": statistics.median(bare),
                "torch_optimizer_ratio": statistics.median(unwrapped),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| batch size | epochs per repeat | raw loop s/epoch | d2lab s/epoch | ratio | ratio, repeats "
        "| d2lab, 1 step per Lightning step | ratio | d2lab epoch with no training work "
        "| bare LightningModule, ratio | d2lab on the torch optimizer, ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        low, high = r["ratio_range"]
        lines.append(
            f"| {r['batch_size']} | {r['epochs']} | {r['raw_s']:.4f} | {r['d2lab_s']:.4f} | **{r['ratio']:.2f}×** "
            f"| {low:.2f}–{high:.2f}× "
            f"| {r['one_step_per_call_s']:.4f} | {r['one_step_ratio']:.2f}× | {r['floor_s']:.4f} "
            f"| {r['bare_ratio']:.2f}× | {r['torch_optimizer_ratio']:.2f}× |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--epochs", type=int, default=4, help="at least this many per repeat (small batches get more)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(table(measure(args.batch_sizes, args.epochs, args.repeats)))
