"""Which of a sweep's jobs to launch, under which job numbers, given what its folder already holds."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from d2lab.sweeps.state import FINISHED, JobFolder, job_folders, job_key, resume_overrides


@dataclass
class LaunchPlan:
    launch: list[tuple[int, list[str]]] = field(default_factory=list)  # (job number, overrides), in order
    skipped: list[JobFolder] = field(default_factory=list)
    resumed: list[JobFolder] = field(default_factory=list)

    def batches(self, max_batch_size: int | None) -> Iterator[tuple[int, list[list[str]]]]:
        """Runs of consecutive job numbers (a launcher numbers a batch from its first job), at most
        `max_batch_size` jobs each."""
        run: list[tuple[int, list[str]]] = []
        for num, overrides in self.launch:
            full = max_batch_size is not None and max_batch_size > 0 and len(run) >= max_batch_size
            if run and (num != run[-1][0] + 1 or full):
                yield run[0][0], [o for _, o in run]
                run = []
            run.append((num, overrides))
        if run:
            yield run[0][0], [o for _, o in run]

    def log(self, log: logging.Logger, planned: int) -> None:
        for job in self.skipped:
            why = "still running" if job.status == "running" else job.status
            log.info("Skipping job %d (%s): %s", job.num, why, " ".join(sorted(job_key(job.overrides))))
        for job in self.resumed:
            checkpoint = job.resume_checkpoint()
            start = f"from {checkpoint.name}" if checkpoint else "from the start"
            log.info("Re-running job %d (%s) %s", job.num, job.status, start)
        if self.skipped or self.resumed:
            log.info(
                "%d of %d jobs already finished; launching %d (%d of them again)",
                sum(j.status in FINISHED for j in self.skipped),
                planned,
                len(self.launch),
                len(self.resumed),
            )


def plan_jobs(jobs: list[list[str]], sweep_dir: Path, resume: bool = True) -> LaunchPlan:
    """Skip finished (and live) jobs with the same overrides, re-run the others in their own folders, and
    number new jobs after every existing folder. Without `resume`, every job is new."""
    existing = job_folders(sweep_dir)
    next_num = max(existing, default=-1) + 1
    by_key: dict[frozenset[str], list[JobFolder]] = {}
    for job in sorted(existing.values(), key=lambda j: j.num):
        by_key.setdefault(job_key(job.overrides), []).append(job)
    plan = LaunchPlan()
    for overrides in jobs:
        matches = by_key.get(job_key(overrides)) if resume else None
        if matches:
            job = matches.pop(0)  # the same overrides twice in one sweep: each planned job takes one folder
            if job.status in (*FINISHED, "running"):
                plan.skipped.append(job)
            else:
                plan.resumed.append(job)
                plan.launch.append((job.num, resume_overrides(JobFolder(job.num, job.folder, overrides, {}))))
            continue
        plan.launch.append((next_num, list(overrides)))
        next_num += 1
    plan.launch.sort(key=lambda item: item[0])
    return plan


def interrupted_hint(sweep_dir: Path) -> str:
    return (
        f"Sweep interrupted. Run the same command with hydra.sweep.dir={sweep_dir} to finish it: finished jobs "
        "are skipped, the others resume from their checkpoints."
    )
