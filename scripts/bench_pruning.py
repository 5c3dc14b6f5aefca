"""What pruning buys an Optuna search: the same seeded 40-trial search with `hydra/sweeper/pruner=none` and
with `median`, run one after the other, on airfoil and on BN-LeNet with a small real Fashion-MNIST subset.

    python scripts/bench_pruning.py [--trials 40] [--data-dir data]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SEARCHES = {  # name: the search's overrides; epochs long enough that a pruned trial saves some
    "airfoil (LinearNet, 10 epochs)": ["hparams_search=airfoil_optuna", "trainer.max_epochs=10"],
    "BN-LeNet (2,000 images, 4 epochs)": [
        "hparams_search=lenet_optuna",
        "data.train_size=2000",
        "data.eval_batch_size=1000",
        "trainer.max_epochs=4",
    ],  # fmt: skip
}
PRUNERS = ("none", "median")


def run_search(overrides: list[str], pruner: str, trials: int, data_dir: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, "-m", "d2lab.train", *overrides, f"hydra.sweeper.n_trials={trials}",
            f"hydra/sweeper/pruner={pruner}", f"paths.data_dir={data_dir}", "logger=csv", f"hydra.sweep.dir={folder}",
        ]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        results = yaml.safe_load((Path(folder) / "optimization_results.yaml").read_text())
    return {"seconds": seconds, **results}


def table(trials: int, data_dir: str) -> str:
    lines = [
        f"| search ({trials} trials, seeded TPE) | pruner | wall time (s) | best value | complete / pruned / failed |",
        "|---|---|---|---|---|",
    ]
    ratios = []
    for name, overrides in SEARCHES.items():
        rows = {pruner: run_search(overrides, pruner, trials, data_dir) for pruner in PRUNERS}
        for pruner, r in rows.items():
            counts = f"{r['n_complete']} / {r['n_pruned']} / {r['n_failed']}"
            lines.append(f"| {name} | {pruner} | {r['seconds']:.1f} | {r['best_value']:.4f} | {counts} |")
        none, median = rows["none"], rows["median"]
        time_ratio, best_ratio = median["seconds"] / none["seconds"], median["best_value"] / none["best_value"]
        ratios.append(
            f"{name}: pruning took {time_ratio:.2f}× the wall time; best value {median['best_value']:.4f} "
            f"against {none['best_value']:.4f} ({best_ratio:.3f}×)."
        )
    return "\n".join([*lines, "", *ratios])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--data-dir", default=str(REPO / "data"), help="holds FashionMNIST/raw/")
    args = parser.parse_args()
    from benchmark import ensure_fashion_mnist  # links the real files from ../shared/data when present

    print(f"Fashion-MNIST: {ensure_fashion_mnist(Path(args.data_dir))}", flush=True)
    print(table(args.trials, args.data_dir))


if __name__ == "__main__":
    main()
