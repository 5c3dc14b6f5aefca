"""A finished (or running) run or sweep, read from its folder: what d2lab.run, d2lab.sweep and d2lab.load return.

Everything is read from the files the run wrote (metrics.json, .hydra/, checkpoints/), fresh on each access, so
a `Sweep` of a search still at work shows the jobs done so far. A run still at work says `running`; its history
is written when it ends.
"""

import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from omegaconf import DictConfig, OmegaConf

from d2lab.report.jobs import Job, best_value, load_jobs, parse_overrides, read_metrics
from d2lab.sweeps.state import job_status


class Run:
    """One run's folder: `.status`, `.metrics` (metrics.json), `.history` (a DataFrame, one row per validation),
    `.best_checkpoint`, `.config`, `.overrides` and `.plot()`."""

    def __init__(self, folder: str | Path) -> None:
        self.dir = Path(folder).resolve()

    @property
    def metrics(self) -> dict:
        return read_metrics(self.dir / "metrics.json")

    @property
    def status(self) -> str:
        """ok, diverged, failed, pruned, interrupted, running, or missing (no metrics.json, or a dead process)."""
        return job_status(self.metrics)

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.metrics.get("history") or [])

    @property
    def best(self) -> float:
        """The best value of the monitored metric (`metrics["monitor"]`); NaN unless the run finished ok."""
        return best_value(self.metrics)

    @property
    def best_checkpoint(self) -> Path | None:
        path = self.dir / "checkpoints" / "best.ckpt"
        return path if path.is_file() else None

    @property
    def config(self) -> DictConfig:
        """The composed config the run ran with (Hydra's `.hydra/config.yaml`)."""
        return OmegaConf.load(self.dir / ".hydra" / "config.yaml")

    @property
    def overrides(self) -> dict[str, str]:
        path = self.dir / ".hydra" / "overrides.yaml"
        return parse_overrides(OmegaConf.to_container(OmegaConf.load(path))) if path.is_file() else {}

    def plot(self) -> Figure:
        """The run's train and val curves against epoch, as the live plot draws them."""
        from d2lab.report.plots import run_figure

        metrics = self.metrics
        return run_figure(metrics.get("history") or [], str(self.dir), metrics.get("validate_on", "heldout"))

    def __repr__(self) -> str:
        metrics = self.metrics  # read once: the run may be writing it
        value = best_value(metrics)
        best = f", best {metrics.get('monitor', 'val/loss')} {value:.4g}" if math.isfinite(value) else ""
        return f"Run({str(self.dir)!r}, status={job_status(metrics)!r}{best})"


class Sweep:
    """A multirun's folder: `.jobs` (a Run each, in job order), `.summary` (the report's table, best first),
    `.groups` (mean and std over seeds per configuration; None without seed groups), `.plot()` and `.report()`."""

    def __init__(self, folder: str | Path) -> None:
        self.dir = Path(folder).resolve()

    def job_records(self) -> list[Job]:
        return load_jobs(self.dir)

    @property
    def jobs(self) -> list[Run]:
        return [Run(job.folder) for job in self.job_records()]

    @property
    def summary(self) -> pd.DataFrame:
        from d2lab.report.write import monitor_and_mode, override_keys, sort_jobs, table

        jobs = self.job_records()
        if not jobs:
            return pd.DataFrame()
        monitor, mode = monitor_and_mode(jobs)
        return pd.DataFrame(table(sort_jobs(jobs, mode), override_keys(jobs, varying_only=True), monitor))

    @property
    def groups(self) -> pd.DataFrame | None:
        from d2lab.report.groups import group_table, has_groups
        from d2lab.report.write import metric_keys, monitor_and_mode, override_keys

        jobs = self.job_records()
        varying = override_keys(jobs, varying_only=True)
        if not has_groups(jobs, varying):
            return None
        monitor, mode = monitor_and_mode(jobs)
        return group_table(jobs, varying, monitor, mode, metric_keys(jobs)).reset_index(drop=True)

    def plot(self, curve: str = "val/loss") -> Figure:
        """Every job's curve (or each seed group's mean with its band) against epoch and wall time, as
        `d2lab.report` draws loss_curves.png."""
        from d2lab.report.groups import group_keys, has_groups
        from d2lab.report.jobs import validated_on
        from d2lab.report.plots import curve_label, curves_figure, group_series, job_series
        from d2lab.report.write import monitor_and_mode, override_keys, sort_jobs

        jobs = self.job_records()
        _, mode = monitor_and_mode(jobs) if jobs else ("", "min")
        jobs = sort_jobs(jobs, mode)
        varying = override_keys(jobs, varying_only=True)
        validate_on = validated_on(jobs)
        if has_groups(jobs, varying):
            title = f"{curve_label(curve, validate_on)}: mean over seeds"
            series = group_series(jobs, group_keys(varying), curve)
            return curves_figure(series, curve, title, validate_on)
        return curves_figure(job_series(jobs, varying, curve), curve, validate_on=validate_on)

    def report(self, curve: str = "val/loss") -> list[Path]:
        """`python -m d2lab.report` on this folder: summary.md/.csv, groups, pictures; returns their paths."""
        from d2lab.report.write import report

        return report(self.dir, curve)

    def __repr__(self) -> str:
        counts = pd.Series([job.status for job in self.job_records()]).value_counts()
        return f"Sweep({str(self.dir)!r}, jobs: {', '.join(f'{n} {s}' for s, n in counts.items()) or 'none'})"
