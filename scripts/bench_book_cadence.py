"""The book's minibatch-SGD comparison (12.5) at the book's cadence: d2lab's `experiment=d2l_minibatch_sgd` against the
book's own code (scripts/book_minibatch_sgd.py, without drawing and drawing each point as a notebook does) and
against the same sweep with one point per validation only (`callbacks.curve.val_every_n_examples=null`; with
--before, also an older tree's sweep). d2lab draws nothing during the sweep; its figure comes from the report.

Each is a fresh process, timed from the outside, run back to back within a repeat so that every ratio is taken
within one repeat on a shared machine; after one untimed round, `--repeats` rounds.

    python scripts/bench_book_cadence.py [--repeats 3] [--before /tmp/before]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from d2lab.report.jobs import load_jobs

REPO = Path(__file__).resolve().parents[1]
SWEEP = ["-m", "d2lab.train", "experiment=d2l_minibatch_sgd"]


def book(draw: str = "none") -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "book_minibatch_sgd.py"), "--draw", draw], cwd=REPO,
                          check=True, capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - started
    runs = json.loads(done.stderr.strip().splitlines()[-1])
    return {"wall_s": wall, "points": {name: run["points"] for name, run in runs.items()},
            "loss": {name: run["loss"] for name, run in runs.items()}}  # fmt: skip


def d2lab(*extra: str, tree: Path = REPO) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")} if tree != REPO else None
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        subprocess.run([sys.executable, *SWEEP, *extra, f"hydra.sweep.dir={folder}"], cwd=tree, env=env, check=True,
                       capture_output=True, text=True)  # fmt: skip
        wall = time.perf_counter() - started
        jobs = {job.overrides["minibatch"]: job for job in load_jobs(Path(folder))}  # gd, sgd, batch_10, batch_100
    points = {name: sum("val/loss" in h for h in job.history) for name, job in jobs.items()}
    return {"wall_s": wall, "points": points, "loss": {name: job.metrics["val/loss"] for name, job in jobs.items()}}


def measure(repeats: int = 3, before: Path | None = None) -> dict[str, list[dict]]:
    variants = {
        "the book's code": book,
        "the book's code, drawing each point as Jupyter does (SVG)": lambda: book("svg"),
        "d2lab, the book's cadence": d2lab,
        "d2lab, one point per validation": lambda: d2lab("callbacks.curve.val_every_n_examples=null"),
    }
    if before is not None:
        variants["d2lab before (--before tree)"] = lambda: d2lab(tree=before)
    for run in variants.values():  # one untimed round: caches, bytecode
        run()
    rounds = [[run() for run in variants.values()] for _ in range(repeats)]  # back to back within each repeat
    return {name: [r[i] for r in rounds] for i, name in enumerate(variants)}


def table(results: dict[str, list[dict]]) -> str:
    book_walls = [r["wall_s"] for r in results["the book's code"]]
    rows = [
        "| | wall time, median (range) | ratio to the book's code, per repeat | points per run: GD, SGD, "
        "batch 10, batch 100 | last loss: GD, SGD, batch 10, batch 100 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, rounds in results.items():
        walls = [r["wall_s"] for r in rounds]
        ratios = ", ".join(f"{w / b:.2f}" for w, b in zip(walls, book_walls, strict=True))
        points = ", ".join(str(rounds[-1]["points"][k]) for k in ("gd", "sgd", "batch_10", "batch_100"))
        losses = ", ".join(f"{rounds[-1]['loss'][k]:.3f}" for k in ("gd", "sgd", "batch_10", "batch_100"))
        rows.append(
            f"| {name} | {statistics.median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}) | {ratios} | "
            f"{points} | {losses} |"
        )
    cadence = [r["wall_s"] for r in results["d2lab, the book's cadence"]]
    plain = [r["wall_s"] for r in results["d2lab, one point per validation"]]
    per_repeat = ", ".join(f"{c / p:.2f}" for c, p in zip(cadence, plain, strict=True))
    rows += ["", f"The cadence against one point per validation, per repeat: {per_repeat}."]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", type=Path, help="a source tree of an older d2lab, run from its src/")
    args = parser.parse_args()
    print(table(measure(args.repeats, args.before)))


if __name__ == "__main__":
    main()
