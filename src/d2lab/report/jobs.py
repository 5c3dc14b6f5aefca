"""A sweep's jobs as the report reads them from disk, and how their override values read as numbers and labels.

Shared by the tables (write.py, groups.py) and the pictures (plots.py); it reads files only.
"""

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from d2lab.sweeps.state import job_status


@dataclass
class Job:
    name: str  # the job's folder name: its number in the sweep
    folder: Path
    overrides: dict[str, str]  # key -> value, as typed on the command line
    metrics: dict = field(default_factory=dict)  # empty when the job died before writing metrics.json

    @cached_property  # looked up once, so the counts, the table and the plots of one report agree
    def status(self) -> str:
        return job_status(self.metrics)

    @property
    def best(self) -> float:
        return best_value(self.metrics)

    @property
    def history(self) -> list[dict]:
        return self.metrics.get("history") or []


def validated_on(jobs: list[Job]) -> str:
    """`test` where every job validated on the test images (`data.validate_on=test`), so that their `val/` scores
    are test scores; `heldout` otherwise: a sweep over both, or over data without test images (airfoil), shows its
    mix in the override columns, and a job from before d2lab recorded it counts as heldout."""
    return "test" if jobs and {j.metrics.get("validate_on") for j in jobs} == {"test"} else "heldout"


def best_value(metrics: dict) -> float:
    """A record's best monitored value; NaN unless the job finished ok."""
    value = metrics.get("best")
    return float(value) if job_status(metrics) == "ok" and value is not None else math.nan


def parse_overrides(lines: list[str]) -> dict[str, str]:
    """`+book_optimizer=sgd` -> {"book_optimizer": "sgd"}; a `~key` deletion keeps its key with no value."""
    pairs = {}
    for line in lines:
        key, _, value = str(line).partition("=")
        pairs[key.lstrip("+~")] = value
    return pairs


def read_metrics(path: Path) -> dict:
    """A job's metrics.json; {} when there is none, and no status (so: missing) when it cannot be read."""
    try:
        metrics = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):  # a job killed mid-write (the runs write atomically, but other tools may not)
        metrics = None
    if not isinstance(metrics, dict):
        return {"error": "metrics.json is half-written or not a record: the job died while writing it"}
    return metrics


def load_jobs(sweep_dir: Path) -> list[Job]:
    """Every job folder of a sweep, in job-number order; a job without metrics.json is kept, as crashed."""
    jobs = []
    for overrides_file in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        folder = overrides_file.parent.parent
        overrides = parse_overrides(yaml.safe_load(overrides_file.read_text()) or [])
        jobs.append(Job(folder.name, folder, overrides, read_metrics(folder / "metrics.json")))
    return sorted(jobs, key=lambda j: (not j.name.isdigit(), int(j.name) if j.name.isdigit() else 0, j.name))


def as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def short(value: str) -> str:
    """An override value for a label or a table cell: 0.003486678167 -> 0.00349; names stay as they are."""
    number = as_number(value)
    return f"{number:.3g}" if number is not None and not value.lstrip("-").isdigit() else value
