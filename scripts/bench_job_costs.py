"""What each part of a short job's fixed cost is: the 12-job airfoil grid (3 epochs a job, basic launcher) run
whole, then without one part at a time, interleaved; a part's cost is the difference in the median job's clock
(from its `.hydra/config.yaml` to its `metrics.json`, as bench_sweeps.py clocks a job), so the sweep's import,
which varies by more than these parts cost, is not in it.

The parts: the checkpoint writes every epoch (best.ckpt and last.ckpt; without them the test uses the last
weights), the test stage (`test=false`), the logger (`~logger`: TensorBoard's writer, its HParams session) and
validation every epoch (`trainer.limit_val_batches=0`, for scale). `metrics.json` and the job's record are timed
in-process, since no flag turns them off.

    python scripts/bench_job_costs.py [--repeats 3]
    git archive <commit> | tar -x -C /tmp/before && python scripts/bench_job_costs.py --before /tmp/before
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench_sweeps import REPO, fit_seconds, run_sweep

PARTS = {  # what is left out: the overrides that leave it out
    "checkpoint writes": ["callbacks.model_checkpoint=null", "callbacks.step_snapshot=null", "test_ckpt=last"],
    "test stage": ["test=false"],
    "logger": ["~logger"],
    "validation each epoch": ["+trainer.limit_val_batches=0", "test_ckpt=last"],
}


def record_write_ms(calls: int = 50) -> float:
    """ms for one metrics.json write of a finished 3-epoch job's record (it is written at a job's start and end)."""
    from d2lab.job.record import write_metrics

    with tempfile.TemporaryDirectory() as folder:
        record = {"status": "ok", "history": [{"epoch": e, "val/loss": 0.25, "time_s": 0.1} for e in range(3)]}
        start = time.perf_counter()
        for _ in range(calls):
            write_metrics(folder, record)
        return (time.perf_counter() - start) / calls * 1e3


def job_clock(run: dict) -> float:
    """The median job's seconds from its config to its metrics.json (the first job's imports fall in its clock)."""
    return statistics.median(j["end"] - j["start"] for j in run["jobs"])


def measure(repeats: int, epochs: int = 3, trees: dict[str, Path] | None = None) -> dict[str, list[dict]]:
    trees = trees or {"": REPO}
    rows: dict[str, list[dict]] = {name: [] for name in trees}
    for tree in trees.values():  # untimed: the first run after a pause reads its files from disk
        run_sweep(epochs, tree=tree)
    for _ in range(repeats):
        walls: dict[str, dict[str, dict]] = {name: {} for name in trees}
        for part, overrides in {"whole job": [], **PARTS}.items():
            for name, tree in trees.items():
                walls[name][part] = run_sweep(epochs, *overrides, tree=tree)
        for name in trees:
            whole = walls[name]["whole job"]
            jobs = len(whole["jobs"])
            row = {"whole_s": whole["wall"], "fit_s": fit_seconds(whole), "jobs": jobs,
                   "import_s": whole["import_s"]}  # fmt: skip
            row["job_s"] = job_clock(whole)
            row.update({part: row["job_s"] - job_clock(walls[name][part]) for part in PARTS})
            rows[name].append(row)
            print(json.dumps({"tree": name, **row}), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    med = lambda key: statistics.median(r[key] for r in rows)  # noqa: E731
    jobs = rows[0]["jobs"]
    per_job = (med("whole_s") - med("import_s")) / jobs
    lines = ["| part of a job | cost per job (ms) | share of a job's clock |", "| --- | --- | --- |"]
    for part in PARTS:
        lines.append(f"| {part} | {med(part) * 1e3:.0f} | {med(part) / med('job_s'):.0%} |")
    write_ms = record_write_ms()
    lines.append(f"| metrics.json, one write (two a job) | {write_ms:.1f} | {2 * write_ms / 1e3 / med('job_s'):.1%} |")
    lines += [
        "",
        f"The median job's clock: {med('job_s') * 1e3:.0f} ms. "
        f"{jobs} jobs: the sweep took {med('whole_s'):.2f} s, of which {med('import_s'):.2f} s importing and "
        f"Σ time/fit_s {med('fit_s'):.2f} s: a job costs {per_job * 1e3:.0f} ms beyond the import, "
        f"{(per_job - med('fit_s') / jobs) * 1e3:.0f} ms of it outside fit. basic wall / (import + Σ time/fit_s) = "
        f"**{med('whole_s') / (med('import_s') + med('fit_s')):.2f}** (target ≤ 1.4).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another source tree (git archive <commit>), run interleaved")
    args = parser.parse_args()
    trees = {"after": REPO, "before": args.before.resolve()} if args.before else None
    for name, rows in measure(args.repeats, trees=trees).items():
        print(f"\n{name}\n\n{table(rows)}" if name else table(rows))


if __name__ == "__main__":
    main()
