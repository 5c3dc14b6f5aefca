"""What an Optuna search of short trials costs on one machine: `hparams_search=airfoil_optuna` (3 epochs a trial)
with the basic launcher and with `hydra/launcher=parallel hydra.launcher.n_jobs=2`, at 40 and 100 trials.

The clocks are bench_sweeps.py's: each trial's from its files (`.hydra/config.yaml` to `metrics.json`), the import
from `python -X importtime`, Hydra's set-up before a job from the basic launcher's gaps. The timeline shows each
launcher's gaps between one trial's end and the next trial's start on the same worker: a batch barrier shows as a
long tail of gaps, a worker waiting for its pair. Workers are told apart by the pid each job records in its
provenance; a tree whose jobs do not record it (`--before`) gets each trial assigned to the worker that became free
last before the trial started.

    python scripts/bench_search.py [--trials 40 100] [--repeats 1]
    git archive <commit> | tar -x -C /tmp/before && python scripts/bench_search.py --before /tmp/before
"""

import argparse
import json
import statistics
from pathlib import Path

from bench_sweeps import REPO, fit_seconds, run_multirun

SEARCH = ["hparams_search=airfoil_optuna", "trainer.max_epochs=3"]
LAUNCHERS = {"basic": [], "parallel": ["hydra/launcher=parallel", "hydra.launcher.n_jobs=2"]}


def run_search(trials: int, extra: list[str], tree: Path = REPO) -> dict:
    """Wall time, import seconds and each trial's clocks (start, end, fit, worker) in start order."""
    run = run_multirun([*SEARCH, f"hydra.sweeper.n_trials={trials}", *extra], tree, all_ok=False)
    assert len(run["jobs"]) == trials, f"{len(run['jobs'])} job folders for {trials} trials"
    return {**run, "jobs": sorted(run["jobs"], key=lambda j: j["start"])}


def worker_gaps(jobs: list[dict]) -> list[float]:
    """Seconds each worker sat idle between one trial's end and its next trial's start."""
    if all(j["pid"] is not None for j in jobs):
        workers: dict[object, list[dict]] = {}
        for job in jobs:
            workers.setdefault(job["pid"], []).append(job)
        return [b["start"] - a["end"] for w in workers.values() for a, b in zip(w, w[1:], strict=False)]
    free: list[float] = []  # when each worker became free
    gaps = []
    for job in jobs:
        ready = [t for t in free if t <= job["start"]]
        if ready:
            last = max(ready)
            free.remove(last)
            gaps.append(job["start"] - last)
        free.append(job["end"])
    return gaps


def figures(runs: dict[str, dict]) -> dict:
    basic = runs["basic"]
    setup = statistics.median(worker_gaps(basic["jobs"]))  # Hydra's set-up between trials, basic launcher
    imports = basic["import_s"]
    row = {"import_s": imports, "setup_s": setup}
    for name, run in runs.items():
        gaps = worker_gaps(run["jobs"])
        in_process = sum(j["end"] - j["start"] + setup for j in run["jobs"])
        row[name] = {
            "wall": run["wall"],
            "fit_s": fit_seconds(run),
            "in_process_s": in_process,
            "gap_median": statistics.median(gaps),
            "gap_p90": statistics.quantiles(gaps, n=10)[-1],
            "gap_max": max(gaps),
        }
    row["parallel"]["vs_basic"] = runs["parallel"]["wall"] / basic["wall"]
    row["parallel"]["vs_ideal"] = runs["parallel"]["wall"] / (imports + row["parallel"]["in_process_s"] / 2)
    row["basic"]["vs_import_fit"] = basic["wall"] / (imports + row["basic"]["fit_s"])
    # The least parallel / basic can be with two workers while the import stays serial: all else split in two.
    row["parallel"]["bound_vs_basic"] = (imports + (basic["wall"] - imports) / 2) / basic["wall"]
    return row


def measure(trial_counts: list[int], repeats: int = 1, trees: dict[str, Path] | None = None) -> dict:
    """{tree: {trials: [row per repeat]}}; within a repeat every tree's search runs right after the other's."""
    trees = trees or {"": REPO}
    rows: dict[str, dict[int, list]] = {name: {n: [] for n in trial_counts} for name in trees}
    for tree in trees.values():  # untimed: the first run after a pause reads its files from disk
        run_search(4, LAUNCHERS["parallel"], tree)
    for _ in range(repeats):
        for trials in trial_counts:
            runs: dict[str, dict] = {name: {} for name in trees}
            for launcher, extra in LAUNCHERS.items():
                for name, tree in trees.items():
                    runs[name][launcher] = run_search(trials, extra, tree)
            for name in trees:
                rows[name][trials].append(figures(runs[name]))
                print(json.dumps({"tree": name, "trials": trials, **rows[name][trials][-1]}), flush=True)
    return rows


def table(rows: dict[int, list[dict]]) -> str:
    med = lambda rs, f: statistics.median(f(r) for r in rs)  # noqa: E731
    lines = [
        "| trials | launcher | wall (s) | Σ time/fit_s (s) | Σ in-process (s) | gap between trials on a worker: "
        "median / p90 / max (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for trials, rs in rows.items():
        for name in LAUNCHERS:
            get = lambda k, n=name, rs=rs: med(rs, lambda r: r[n][k])  # noqa: E731
            lines.append(f"| {trials} | {name} | {get('wall'):.2f} | {get('fit_s'):.2f} | {get('in_process_s'):.2f} | "
                         f"{get('gap_median'):.3f} / {get('gap_p90'):.3f} / {get('gap_max'):.3f} |")  # fmt: skip
    targets = {40: ("vs_basic", 0.6), 100: ("vs_basic", 0.55)}
    lines += ["", "| trials | ratio | median | target |", "| --- | --- | --- | --- |"]
    for trials, rs in rows.items():
        checks = [("parallel wall / basic wall", "vs_basic", targets.get(trials, (None, None))[1])]
        if trials == 40:
            checks.append(("parallel wall / (import + Σ in-process / 2)", "vs_ideal", 1.25))
        for label, key, target in checks:
            value = med(rs, lambda r, k=key: r["parallel"][k])
            verdict = "-" if target is None else f"≤ {target:g}: {'met' if value <= target else 'MISSED'}"
            lines.append(f"| {trials} | {label} | **{value:.2f}** | {verdict} |")
        value = med(rs, lambda r: r["parallel"]["bound_vs_basic"])
        lines.append(f"| {trials} | (import + (basic wall − import) / 2) / basic wall: the least the first ratio "
                     f"can be with a serial import | {value:.3f} | - |")  # fmt: skip
        value = med(rs, lambda r: r["basic"]["vs_import_fit"])
        lines.append(f"| {trials} | basic wall / (import + Σ time/fit_s) | {value:.2f} | - |")
    first = next(iter(rows.values()))
    lines += ["", f"Import: {med(first, lambda r: r['import_s']):.2f} s; Hydra's set-up between trials (basic): "
                  f"{med(first, lambda r: r['setup_s']):.3f} s."]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[40, 100])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--before", type=Path, help="another source tree (git archive <commit>), run interleaved")
    args = parser.parse_args()
    trees = {"after": REPO, "before": args.before.resolve()} if args.before else None
    for name, rows in measure(args.trials, args.repeats, trees).items():
        print(f"\n{name}\n\n{table(rows)}" if name else table(rows))


if __name__ == "__main__":
    main()
