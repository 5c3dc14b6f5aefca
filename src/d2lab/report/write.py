"""A sweep's summary: one table and a few pictures from a multirun folder.

    python -m d2lab.report logs/<task_name>/multiruns/<stamp>      (or: d2lab-report <folder>)
    python -m d2lab.report                                          # the newest sweep under logs/

Reads every job's `.hydra/overrides.yaml` and `metrics.json` and writes, into that folder, `summary.csv`
(every override as a column), `summary.md` (the overrides that vary), `loss_curves.png` (every job's
curve against epoch and against wall time) and, for a full 2-D grid, `heatmap.png`. Jobs are sorted by
the optimized metric; diverged, failed, pruned, interrupted, running and missing (crashed: no metrics.json,
or a dead process) jobs come last, marked.

A sweep over `seed` or `data.fold` also gets `groups.csv` and `groups.md` (groups.py): jobs that differ only in
`seed` and `data.fold` form one group, with mean and std over its jobs; its curves are the group means with a band,
and its heat map shows the means ± std. An Optuna search adds the study's own plots (study.py), and a playground sweep
its trajectory comparison. The report reads files only, so it also reads a sweep still running, and says its
results are partial; it imports neither torch nor Lightning (tests/test_report_imports.py holds that).
"""

import argparse
import csv
import math
import sys
from pathlib import Path

import yaml

from d2lab.report.groups import group_keys, in_group_order, write_groups
from d2lab.report.jobs import Job, load_jobs, short, validated_on
from d2lab.report.plots import curve_label, grid_keys, group_series, job_series, plot_curves, plot_heatmap
from d2lab.report.study import study_plots
from d2lab.sweeps.state import is_alive, read_json

TIME_KEYS = ("time/fit_s", "time/epoch_s")
STATUSES = ("ok", "diverged", "failed", "pruned", "interrupted", "running", "missing")


def monitor_and_mode(jobs: list[Job]) -> tuple[str, str]:
    for job in jobs:
        if "monitor" in job.metrics:
            return job.metrics["monitor"], job.metrics.get("mode", "min")
    return "val/loss", "min"


def sort_jobs(jobs: list[Job], mode: str) -> list[Job]:
    """Best first by the optimized metric; jobs without a value (failed, diverged, missing) last."""
    sign = 1.0 if mode == "min" else -1.0
    return sorted(jobs, key=lambda j: (math.isnan(j.best), sign * j.best if not math.isnan(j.best) else 0.0))


def override_keys(jobs: list[Job], varying_only: bool = False) -> list[str]:
    keys: list[str] = []
    for job in jobs:
        keys += [k for k in job.overrides if k not in keys]
    if varying_only:
        keys = [k for k in keys if len({j.overrides.get(k) for j in jobs}) > 1]
    return keys


def metric_keys(jobs: list[Job]) -> list[str]:
    """The final metrics the jobs recorded (train/loss, val/loss, test/..., time/...), time last."""
    keys: list[str] = []
    for job in jobs:
        numbers = [k for k, v in job.metrics.items() if "/" in k and isinstance(v, int | float)]
        keys += [k for k in numbers if k not in keys]
    timing = [k for k in TIME_KEYS if k in keys] + [k for k in keys if k.startswith("time/") and k not in TIME_KEYS]
    return [k for k in keys if k not in timing] + timing


def provenance_of(job: Job) -> dict[str, object]:
    """A job's `provenance` record flat: git_commit, git_dirty, versions.torch, ..., device, command."""
    record = job.metrics.get("provenance") or {}
    flat = {k: v for k, v in record.items() if k != "versions"}
    flat.update({f"versions.{k}": v for k, v in (record.get("versions") or {}).items()})
    return flat


def provenance_split(jobs: list[Job]) -> tuple[list[str], dict[str, object]]:
    """The provenance keys whose values differ between jobs (listed per job), and those every job shares."""
    recorded = [provenance_of(j) for j in jobs if j.metrics.get("provenance")]
    # the command differs by each job's overrides in some launchers' workers: the columns already show those;
    # every job has a process of its own, so its pid tells nothing about what ran it
    keys = [k for k in dict.fromkeys(k for flat in recorded for k in flat) if k not in ("command", "pid")]
    # a job that failed before its Trainer chose a device has none: that is not a difference
    varying = [k for k in keys if len({str(flat[k]) for flat in recorded if flat.get(k) is not None}) > 1]
    common = {k: recorded[0].get(k) for k in keys if k not in varying}
    return varying, common


def table(jobs: list[Job], keys: list[str], monitor: str) -> list[dict[str, object]]:
    rows = []
    metrics = metric_keys(jobs)
    differing, _ = provenance_split(jobs)
    for job in jobs:
        row: dict[str, object] = {"job": job.name, "status": job.status}
        row.update({k: job.overrides.get(k, "") for k in keys})
        row[f"best {monitor}"] = job.metrics.get("best") if job.status == "ok" else None
        row.update({k: job.metrics.get(k) for k in metrics})
        row["epochs"] = job.metrics.get("epochs", len(job.history))
        row.update({k: provenance_of(job).get(k) for k in differing})
        row["error"] = job.metrics.get("error", "")
        if job.status == "missing":
            dead = "its process died while it ran" if job.metrics else "no metrics.json: the job crashed"
            row["error"] = job.metrics.get("error") or dead
        rows.append(row)
    return rows


def fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def write_csv(rows: list[dict[str, object]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def still_running(sweep_dir: Path, jobs: list[Job]) -> str | None:
    """A line for a sweep whose sweeper is still at work (sweep.json says so, and its process lives)."""
    state = read_json(sweep_dir / "sweep.json")
    if state.get("status") != "running" or not is_alive(state):
        return None
    done = sum(j.status not in ("running", "missing") for j in jobs)
    planned = state.get("jobs_planned")
    of = f" of {planned}" if planned else ""
    return f"**Still running: {done}{of} jobs finished; these results are partial.**"


def markdown(sweep_dir: Path, jobs: list[Job], monitor: str, mode: str, images: list[Path]) -> str:
    counts = {s: sum(j.status == s for j in jobs) for s in STATUSES}
    fixed = [k for k in override_keys(jobs) if k not in override_keys(jobs, varying_only=True)]
    lines = [f"# Sweep {sweep_dir}", ""]
    running = still_running(sweep_dir, jobs)
    if running:
        lines += [running, ""]
    lines += [
        f"{len(jobs)} jobs: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ".",
        f"Sorted by best {monitor} ({mode}); jobs without a value (diverged, failed, pruned, interrupted, running, "
        "missing: crashed) last.",
    ]
    if fixed:
        lines.append("Every job: " + " ".join(f"`{k}={jobs[0].overrides[k]}`" for k in fixed) + ".")
    differing, common = provenance_split(jobs)
    if common:
        shared = {k.removeprefix("versions."): v for k, v in common.items()}
        lines.append("Every job ran with: " + ", ".join(f"{k} {fmt(v) or 'null'}" for k, v in shared.items()) + ".")
    if differing:
        lines.append("**The jobs differ in what ran them:** " + ", ".join(f"`{k}`" for k in differing)
                     + " (a column each, below).")  # fmt: skip
    if validated_on(jobs) == "test":
        lines.append("The jobs validated on the test images (`data.validate_on=test`, the book's protocol): their "
                     "`val/` scores are the test images' scores.")  # fmt: skip
    closed_forms = [j.metrics["closed_form"] for j in jobs if j.metrics.get("closed_form")]
    closed = closed_forms[0].get("val/loss") if closed_forms else None
    if closed is not None:
        lines.append(f"Closed-form least-squares optimum: val/loss {closed:.4g}.")
    optuna_file = sweep_dir / "optimization_results.yaml"
    if optuna_file.is_file():
        best = yaml.safe_load(optuna_file.read_text())
        overrides = " ".join(best.get("best_overrides", []))
        lines.append(f"Optuna best: {best.get('best_value')} with `{overrides}`.")
    groups = sweep_dir / "groups.md"
    if groups.is_file():
        lines += [
            "",
            groups.read_text().strip(),
            "",
            "([groups.csv](groups.csv) has every mean and std.)",
            "",
            "Every job:",
        ]
    varying = override_keys(jobs, varying_only=True)
    rows = table(jobs, varying, monitor)
    for row in rows:  # the CSV keeps the exact values
        row.update({k: short(str(row[k])) for k in varying})
        row["error"] = str(row["error"]).split(". ")[0]  # its first sentence; the CSV has all of it
    drop = [k for k in rows[0] if all(r[k] in (None, "") for r in rows)]  # e.g. an error column nobody has
    header = [k for k in rows[0] if k not in drop]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        status = row["status"] if row["status"] == "ok" else f"**{row['status']}**"
        lines.append("| " + " | ".join(fmt(status if k == "status" else row[k]) for k in header) + " |")
    lines += [""] + [f"![{p.stem}]({p.name})" for p in images]
    study = [p for p in images if p.name.startswith("optuna_")]
    if study:
        lines += [
            "",
            "Optuna study: " + ", ".join(f"[{p.stem.removeprefix('optuna_')}]({p.name})" for p in study) + ".",
        ]
    return "\n".join(lines) + "\n"


def playground_figure(sweep_dir: Path) -> Path | None:
    """A playground sweep has no loss curves but a trajectory comparison; its module draws it, without torch."""
    from d2lab.playground.compare import compare, is_playground_sweep

    return compare(sweep_dir) if is_playground_sweep(sweep_dir) else None


def report(sweep_dir: Path, curve: str = "val/loss") -> list[Path]:
    """Write the summary files and plots into `sweep_dir`; returns their paths."""
    jobs = load_jobs(sweep_dir)
    if not jobs:
        raise FileNotFoundError(f"{sweep_dir}: no job folder with .hydra/overrides.yaml in it")
    monitor, mode = monitor_and_mode(jobs)
    jobs = sort_jobs(jobs, mode)
    varying = override_keys(jobs, varying_only=True)
    validate_on = validated_on(jobs)
    for stale in ("groups.md", "groups.csv"):  # a report of this folder before its seeds were added
        (sweep_dir / stale).unlink(missing_ok=True)
    groups = write_groups(sweep_dir, jobs, varying, monitor, mode, metric_keys(jobs))
    if groups is not None:
        keys = group_keys(varying)
        series = group_series(in_group_order(jobs, groups, keys) if keys else jobs, keys, curve)
        named = curve_label(curve, validate_on)
        title = f"{named}: mean of each configuration over its {'folds' if 'data.fold' in varying else 'seeds'}"
    else:
        series, title = job_series(jobs, varying, curve), None
    images = [plot_curves(series, curve, sweep_dir / "loss_curves.png", title, validate_on)]
    grid = grid_keys(jobs, varying)
    if grid:
        images.append(plot_heatmap(jobs, grid, monitor, mode, sweep_dir / "heatmap.png"))
    images.append(playground_figure(sweep_dir))
    images += study_plots(sweep_dir)
    images = [p for p in images if p is not None]
    write_csv(table(jobs, override_keys(jobs), monitor), sweep_dir / "summary.csv")
    (sweep_dir / "summary.md").write_text(markdown(sweep_dir, jobs, monitor, mode, images))
    tables = [sweep_dir / "groups.csv", sweep_dir / "groups.md"] if groups is not None else []
    return [sweep_dir / "summary.csv", sweep_dir / "summary.md", *tables, *images]


def newest_sweep(log_dir: Path) -> Path:
    sweeps = [p for p in log_dir.glob("*/multiruns/*") if p.is_dir()]
    if not sweeps:
        raise FileNotFoundError(f"no multirun folder under {log_dir}/*/multiruns/; run a sweep with -m first")
    return max(sweeps, key=lambda p: p.stat().st_mtime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="d2lab-report", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "folder", type=Path, nargs="?", help="a multirun folder (default: the newest logs/*/multiruns/*)"
    )
    parser.add_argument("--curve", default="val/loss", help="the history metric to plot (default: val/loss)")
    args = parser.parse_args(argv)
    try:
        paths = report(args.folder or newest_sweep(Path("logs")), args.curve)
    except FileNotFoundError as exc:
        sys.exit(f"d2lab-report: {exc}")
    print(paths[1].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    main()
