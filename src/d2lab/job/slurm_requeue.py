"""Preemption that resumes exactly: a Slurm job that was requeued runs its command again, in the same folder,
and resumes from the newest checkpoint it left there.

Every way a job comes back goes through a requeue: `scontrol requeue`, preemption, Lightning's own auto-requeue
signal, and submitit at the time limit (hydra.launcher.max_num_timeout > 0). Slurm counts them in
SLURM_RESTART_COUNT. On the way out, Slurm's SIGTERM reaches Lightning, which stops at the end of the batch
(SIGTERMException); SaveOnInterrupt writes interrupted.ckpt there. Where a job died without that chance, its
last.ckpt (every epoch, and every callbacks.step_snapshot.every_n_train_steps) is the point. Either resumes
bit for bit.
"""

import os
from pathlib import Path

from d2lab.job.checkpoints import newest_resume_point


def restart_count() -> int:
    """How many times Slurm has requeued this job (0 outside Slurm, and on a job's first run)."""
    try:
        return int(os.environ.get("SLURM_RESTART_COUNT", "0"))
    except ValueError:
        return 0


def requeued_resume_point(run_dir: str | Path) -> Path | None:
    """Where a requeued job resumes: its own newest checkpoint, or None on a first run (or none saved yet)."""
    return newest_resume_point(run_dir) if restart_count() > 0 else None


def in_slurm_job() -> bool:
    """Inside a Slurm job (sbatch, srun or salloc), where Slurm, not the user, restarts a stopped run."""
    return "SLURM_JOB_ID" in os.environ
