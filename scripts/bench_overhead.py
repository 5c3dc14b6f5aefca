"""Framework overhead: d2lab's Lightning training of LinearNet on airfoil against a hand-written loop.

Both do the same optimizer steps on the same data (same shuffles, same batches, same lr); the figure is
seconds per training epoch (validation excluded), the median over epochs and repeats.

    python scripts/bench_overhead.py --batch-sizes 1 10 100
"""

import argparse
import statistics
import tempfile
import time
import warnings

import torch

from d2lab.data.airfoil import Airfoil
from d2lab.models.linear import LinearNet

LR = {1: 0.005, 10: 0.05, 100: 0.4}  # the book's airfoil learning rates


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
        "test=false",
        *overrides,
    ]
    with initialize_config_dir(version_base="1.3", config_dir=config_dir()):
        cfg = compose(config_name="train", overrides=args, return_hydra_config=True)
    with tempfile.TemporaryDirectory() as out, open_dict(cfg):
        cfg.paths.output_dir = cfg.hydra.runtime.output_dir = out
        HydraConfig.instance().set_config(cfg)
        summary = train(cfg, {})
    return [h["epoch_s"] for h in summary["history"]], summary


def measure(batch_sizes: list[int], epochs: int, repeats: int) -> list[dict]:
    rows = []
    for batch_size in batch_sizes:
        raw, ours, plain = [], [], []
        for repeat in range(repeats):
            raw += raw_epoch_seconds(batch_size, epochs, seed=repeat)[0][1:]  # first epoch warms up
            ours += d2lab_epoch_seconds(batch_size, epochs, repeat)[0][1:]
            plain += d2lab_epoch_seconds(batch_size, epochs, repeat, "data.steps_per_call=1")[0][1:]
        row = {
            "batch_size": batch_size,
            "raw_s": statistics.median(raw),
            "d2lab_s": statistics.median(ours),
            "one_step_per_call_s": statistics.median(plain),
        }
        row["ratio"] = row["d2lab_s"] / row["raw_s"]
        row["one_step_ratio"] = row["one_step_per_call_s"] / row["raw_s"]
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| batch size | raw loop s/epoch | d2lab s/epoch | ratio | d2lab, 1 step per Lightning step | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['batch_size']} | {r['raw_s']:.4f} | {r['d2lab_s']:.4f} | **{r['ratio']:.2f}×** "
            f"| {r['one_step_per_call_s']:.4f} | {r['one_step_ratio']:.2f}× |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(table(measure(args.batch_sizes, args.epochs, args.repeats)))
