"""What the Animator's view costs: BN-LeNet on a Fashion-MNIST subset with the training curve recorded 5 times an
epoch (`callbacks.curve.train_points_per_epoch=5`, the image presets' setting) and without it, alternating, each a
fresh process; the figure compared is each run's own `time/fit_s`.

    python scripts/bench_train_points.py --data-dir data [--repeats 3] [--train-size 30000] [--epochs 2]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fit_seconds(data_dir: str, train_size: int, epochs: int, points: str) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "d2lab.train", "experiment=d2l_batch_norm", f"paths.data_dir={data_dir}",
                        f"data.train_size={train_size}", f"trainer.max_epochs={epochs}", "print_config=false",
                        "trainer.enable_progress_bar=false", "~logger",
                        f"callbacks.curve.train_points_per_epoch={points}", f"hydra.run.dir={folder}"],
                       cwd=REPO, check=True, capture_output=True)  # fmt: skip
        metrics = json.loads((Path(folder) / "metrics.json").read_text())
    return metrics["time/fit_s"], len(metrics["history"])


def measure(data_dir: str, repeats: int = 3, train_size: int = 30000, epochs: int = 2) -> dict[str, list]:
    runs: dict[str, list] = {"5": [], "null": []}
    for _ in range(repeats):
        for points in runs:  # alternating, so that both see the same moments of a shared machine
            runs[points].append(fit_seconds(data_dir, train_size, epochs, points))
    return runs


def table(runs: dict[str, list]) -> str:
    on, off = ([seconds for seconds, _ in runs[k]] for k in ("5", "null"))
    records = {k: runs[k][0][1] for k in runs}
    pairs = ", ".join(f"{a / b:.2f}" for a, b in zip(on, off, strict=True))
    return "\n".join([
        "| training curve | `time/fit_s`, median (range) | history records |",
        "| --- | --- | --- |",
        f"| 5 times an epoch | {statistics.median(on):.2f} s ({min(on):.2f}-{max(on):.2f}) | {records['5']} |",
        f"| at validations only | {statistics.median(off):.2f} s ({min(off):.2f}-{max(off):.2f}) | {records['null']} |",
        "",
        f"With against without, per pair: {pairs}; medians: {statistics.median(on) / statistics.median(off):.3f}.",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO / "data"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=30000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    print(table(measure(args.data_dir, args.repeats, args.train_size, args.epochs)))


if __name__ == "__main__":
    main()
