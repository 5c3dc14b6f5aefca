"""What a sweep folder already holds, so a sweep run into it again only runs what is unfinished.

Both d2lab sweepers (grid and Optuna) use it. A job folder is finished when its `metrics.json` says ok,
diverged or pruned: each is a result, and running the same seeded job again gives the same one. Failed,
interrupted, crashed and missing jobs run again, from their newest checkpoint where one exists. A job whose
metrics.json says `running` with a live process on this host belongs to another sweep still at work and is
left alone. `sweep.json` in the sweep folder says whether the sweep itself is running, done or interrupted.
"""

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from d2lab.job.checkpoints import newest_resume_point

FINISHED = ("ok", "diverged", "pruned")
RESUME_KEY = "ckpt_path"  # added by the sweeper to resume a job; not part of what the job is


def owner() -> dict:
    """Who is running: written into metrics.json and sweep.json so a reader can tell live from crashed."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def is_alive(record: dict) -> bool:
    """True when `record` names a live process on this host (another host's process counts as alive)."""
    pid, host = record.get("pid"), record.get("host")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if host is not None and host != socket.gethostname():
        return True  # cannot look: assume it is at work
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):  # missing, or a job killed mid-write
        return {}


def first_error(job_dirs: dict[int, Path], noun: str = "job") -> str:
    """`; <noun> N failed with: <error>` for the first job (by number) whose metrics.json holds an error, else ''."""
    for num, job_dir in sorted(job_dirs.items()):
        error = read_json(job_dir / "metrics.json").get("error")
        if error:
            return f"; {noun} {num} failed with: {str(error).rstrip('.')}"
    return ""


def job_status(metrics: dict) -> str:
    """A job's status from its metrics.json: ok, diverged, failed, pruned, interrupted, running, or missing (no
    readable metrics.json, or one still marked running whose process died before it could say how it ended)."""
    status = metrics.get("status", "missing")
    return "missing" if status == "running" and not is_alive(metrics) else status


def without_resume(overrides: list[str]) -> list[str]:
    """The overrides without the checkpoint a resume added."""
    return [o for o in overrides if o.partition("=")[0].lstrip("+~") != RESUME_KEY]


def job_key(overrides: list[str]) -> frozenset[str]:
    """A job's identity: its overrides, without the checkpoint a resume added."""
    return frozenset(without_resume(overrides))


@dataclass
class JobFolder:
    num: int
    folder: Path
    overrides: list[str]
    metrics: dict

    @property
    def status(self) -> str:
        return job_status(self.metrics)

    def resume_checkpoint(self) -> Path | None:
        return newest_resume_point(self.folder)


def job_folders(sweep_dir: Path) -> dict[int, JobFolder]:
    """The numbered job folders already in `sweep_dir`, by job number."""
    import yaml

    jobs = {}
    for overrides_file in sweep_dir.glob("*/.hydra/overrides.yaml"):
        folder = overrides_file.parent.parent
        if not folder.name.isdigit():
            continue
        overrides = [str(o) for o in yaml.safe_load(overrides_file.read_text()) or []]
        jobs[int(folder.name)] = JobFolder(int(folder.name), folder, overrides, read_json(folder / "metrics.json"))
    return jobs


def resume_overrides(job: JobFolder) -> list[str]:
    """The job's own overrides, plus the checkpoint to resume from when it left one."""
    overrides = without_resume(job.overrides)
    checkpoint = job.resume_checkpoint()
    return overrides + ([f"{RESUME_KEY}={checkpoint}"] if checkpoint else [])


def write_sweep_status(sweep_dir: Path, status: str, jobs_planned: int | None, **facts: object) -> None:
    """sweep.json: running (with who runs it), done or interrupted, and `facts` such as an Optuna search's
    study; the report marks a running sweep partial."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    record = {"status": status, **owner(), "jobs_planned": jobs_planned, "time": time.time(), **facts}
    tmp = sweep_dir / "sweep.json.tmp"
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(sweep_dir / "sweep.json")
