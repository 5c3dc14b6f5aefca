"""What a short job costs beyond its fit with Hydra and Lightning alone, against d2lab's: the 12-job airfoil grid
of bench_sweeps.py (3 epochs a job, basic launcher) beside the same grid of scripts/job_floor_app.py, a bare
Hydra app at three levels (Hydra alone; plus a Lightning Trainer that fits, validates each epoch and tests; plus
ModelCheckpoint's best and last checkpoints), interleaved, each a fresh process timed from the outside.

A job's cost beyond its fit is (wall - import - Σ time/fit_s) / jobs. Issue 25's target for the grid, wall ≤ 1.4 ×
(import + Σ time/fit_s), leaves each of d2lab's jobs 0.4 × (import + Σ time/fit_s) / jobs for all of it.

    python scripts/bench_job_floor.py [--repeats 3]
"""

import argparse
import json
import statistics

from bench_sweeps import fit_seconds, run_multirun, run_sweep

FLOOR_GRID = ["+lr=0.01,0.03,0.1", "+batch_size=10,100", "+seed=0,1"]  # the same 12 jobs
LEVELS = {
    "Hydra alone (the job returns at once)": "hydra",
    "Hydra + a Lightning fit, validation each epoch and test": "lightning",
    "the same + best.ckpt and last.ckpt each epoch": "checkpoints",
}


def run_floor_app(parts: str) -> dict:
    app = ("scripts/job_floor_app.py",)
    return run_multirun(["-m", f"+parts={parts}", "+epochs=3", *FLOOR_GRID], program=app)


def beyond_fit(run: dict) -> float:
    """Seconds a job costs beyond its fit and the sweep's import."""
    return (run["wall"] - run["import_s"] - fit_seconds(run)) / len(run["jobs"])


def measure(repeats: int) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {name: [] for name in [*LEVELS, "d2lab"]}
    run_floor_app("hydra"), run_sweep(3)  # untimed: the first run after a pause reads its files from disk
    for _ in range(repeats):
        for name, parts in LEVELS.items():
            runs[name].append(run_floor_app(parts))
        runs["d2lab"].append(run_sweep(3))
        print(json.dumps({name: round(beyond_fit(r[-1]) * 1e3, 1) for name, r in runs.items()}), flush=True)
    return runs


def table(runs: dict[str, list[dict]]) -> str:
    med = lambda name, f: statistics.median(f(r) for r in runs[name])  # noqa: E731
    lines = ["| 12 jobs, 3 epochs, basic launcher | wall (s) | import (s) | Σ time/fit_s (s) | "
             "per job beyond fit (ms) |",
             "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for name in runs:
        lines.append(f"| {name} | {med(name, lambda r: r['wall']):.2f} | {med(name, lambda r: r['import_s']):.2f} | "
                     f"{med(name, fit_seconds):.2f} | "
                     f"{med(name, beyond_fit) * 1e3:.0f} |")  # fmt: skip
    d2lab = runs["d2lab"]
    budget = statistics.median(0.4 * (r["import_s"] + fit_seconds(r)) / len(r["jobs"]) for r in d2lab)
    lines += ["", f"The target (wall ≤ 1.4 × (import + Σ time/fit_s)) leaves a d2lab job {budget * 1e3:.0f} ms beyond "
              f"its fit. {f'Medians of {len(d2lab)} repeats' if len(d2lab) > 1 else 'One repeat'} "
              "(`python scripts/bench_job_floor.py --repeats "
              f"{len(d2lab)}`)."]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(table(measure(args.repeats)))


if __name__ == "__main__":
    main()
