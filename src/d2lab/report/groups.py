"""Seeds, folds and error bars: a sweep's jobs that differ only in `seed` and `data.fold` (k-fold cross-validation)
form one group, summarized with pandas.

`groups.csv` has one row per configuration: its overrides, `n` (the jobs that finished ok), a count per other
status, the seeds (and folds) it ran, and `<metric>_mean` and `<metric>_std` for the optimized metric
(`best/<monitor>`) and each final metric, over the ok jobs. `groups.md` is the same table sorted by the mean, as
`mean ± std`.
"""

import math
from pathlib import Path

import pandas as pd

from d2lab.report.jobs import Job, short

SEED, FOLD = "seed", "data.fold"
REPLICATES = (SEED, FOLD)  # what a group's jobs may differ in: the same configuration, another draw or fold
OTHER_STATUSES = ("diverged", "failed", "pruned", "interrupted", "running", "missing")


def group_keys(varying: list[str]) -> list[str]:
    return [k for k in varying if k not in REPLICATES]


def has_groups(jobs: list[Job], varying: list[str]) -> bool:
    """True when `seed` or `data.fold` varies and at least one configuration ran more than once."""
    if not set(REPLICATES) & set(varying):
        return False
    keys = group_keys(varying)
    configurations = {tuple(j.overrides.get(k, "") for k in keys) for j in jobs}
    return len(configurations) < len(jobs)


def jobs_frame(jobs: list[Job], keys: list[str], monitor: str, metrics: list[str]) -> pd.DataFrame:
    """One row per job: the group's overrides, its seed, status and numbers (NaN unless it finished ok)."""
    rows = []
    for job in jobs:
        row: dict[str, object] = {k: job.overrides.get(k, "") for k in keys}
        row.update(job=job.name, seed=job.overrides.get(SEED, ""), fold=job.overrides.get(FOLD, ""), status=job.status)
        ok = job.status == "ok"
        row[f"best/{monitor}"] = job.best
        row.update({m: float(job.metrics[m]) if ok and m in job.metrics else math.nan for m in metrics})
        rows.append(row)
    return pd.DataFrame(rows)


def group_table(jobs: list[Job], varying: list[str], monitor: str, mode: str, metrics: list[str]) -> pd.DataFrame:
    """The groups, best mean first; configurations without an ok seed last."""
    keys = group_keys(varying) or ["configuration"]  # a sweep over seeds (or folds) alone is one group
    frame = jobs_frame(jobs, keys, monitor, metrics)
    if keys == ["configuration"]:
        frame["configuration"] = "every fold" if FOLD in varying and SEED not in varying else "every seed"
    groups = frame.groupby(keys, sort=False)
    stats = groups[[f"best/{monitor}", *metrics]].agg(["mean", "std"])
    stats.columns = [f"{metric}_{stat}" for metric, stat in stats.columns]
    counts = pd.crosstab([frame[k] for k in keys], frame["status"])
    counts = counts.reindex(columns=["ok", *OTHER_STATUSES], fill_value=0).rename(columns={"ok": "n"})
    replicates = [("seed", "seeds")] + ([("fold", "folds")] if FOLD in varying else [])
    for column, name in replicates:
        stats[name] = groups[column].agg(lambda s: ",".join(sorted(set(s), key=_as_int)))
    table = stats.join(counts).reset_index()
    metric_columns = [c for c in stats.columns if c not in ("seeds", "folds")]
    table = table[[*keys, "n", *OTHER_STATUSES, *(name for _, name in replicates), *metric_columns]]
    return table.sort_values(f"best/{monitor}_mean", ascending=mode == "min", na_position="last", kind="stable")


def in_group_order(jobs: list[Job], table: pd.DataFrame, keys: list[str]) -> list[Job]:
    """The jobs with their groups in the table's order (best mean first), so the legend reads like groups.md."""
    rank = {tuple(str(v) for v in row): i for i, row in enumerate(table[keys].itertuples(index=False))}
    return sorted(jobs, key=lambda j: rank.get(tuple(j.overrides.get(k, "") for k in keys), len(rank)))


def _as_int(value: str) -> tuple[int, str]:
    return (int(value), "") if value.lstrip("-").isdigit() else (0, value)


def mean_std(mean: float, std: float) -> str:
    if math.isnan(mean):
        return ""
    return f"{mean:.4g}" if math.isnan(std) else f"{mean:.4g} ± {std:.2g}"


def markdown(table: pd.DataFrame, keys: list[str], monitor: str, mode: str, over: str = "`seed`") -> str:
    """The groups as a Markdown table, mean ± std (sample std over the ok jobs), non-ok counts where any."""
    metrics = [c.removesuffix("_mean") for c in table.columns if c.endswith("_mean")]
    metrics = [m for m in metrics if not m.startswith("time/") or m == "time/fit_s"]  # groups.csv has the rest
    statuses = [s for s in OTHER_STATUSES if table[s].sum() > 0]
    header = [*keys, "n", *statuses, *metrics]
    lines = [
        f"Groups: jobs that differ only in {over}, sorted by the mean of best {monitor} ({mode}); "
        "mean ± sample std over the jobs that finished ok (n).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for _, row in table.iterrows():
        cells = [short(str(row[k])) for k in keys] + [str(int(row["n"]))]
        cells += [f"**{int(row[s])}**" if row[s] else "0" for s in statuses]
        cells += [mean_std(row[f"{m}_mean"], row[f"{m}_std"]) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_groups(
    sweep_dir: Path, jobs: list[Job], varying: list[str], monitor: str, mode: str, metrics: list[str]
) -> pd.DataFrame | None:
    """groups.csv and groups.md in `sweep_dir` when the sweep has groups over seeds or folds; returns the table."""
    if not has_groups(jobs, varying):
        return None
    table = group_table(jobs, varying, monitor, mode, metrics)
    table.to_csv(sweep_dir / "groups.csv", index=False)
    over = " and ".join(f"`{k}`" for k in REPLICATES if k in varying)
    (sweep_dir / "groups.md").write_text(markdown(table, group_keys(varying) or ["configuration"], monitor, mode, over))
    return table
