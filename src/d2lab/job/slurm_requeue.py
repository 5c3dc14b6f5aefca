"""Preemption that resumes exactly: a Slurm job that was requeued runs its command again, in the same folder,
and resumes from the newest checkpoint it left there.

Every way a job comes back goes through a requeue: `scontrol requeue`, preemption, Lightning's own auto-requeue
signal, and submitit at the time limit (hydra.launcher.max_num_timeout > 0). Slurm counts them in
SLURM_RESTART_COUNT. On the way out, Slurm's SIGTERM reaches Lightning, which stops at the end of the batch
(SIGTERMException); SaveOnInterrupt writes interrupted.ckpt there. Where a job died without that chance, its
last.ckpt (every epoch, and every callbacks.step_snapshot.every_n_train_steps) is the point. Either resumes
bit for bit. checkpoints.resume_point picks that point; the record notes the job and its restarts.
"""

import os


def restart_count() -> int:
    """How many times Slurm has requeued this job (0 outside Slurm, and on a job's first run)."""
    try:
        return int(os.environ.get("SLURM_RESTART_COUNT", "0"))
    except ValueError:
        return 0


def in_slurm_job() -> bool:
    """Inside a Slurm job (sbatch, srun or salloc), where Slurm, not the user, restarts a stopped run."""
    return "SLURM_JOB_ID" in os.environ


def slurm_facts() -> dict[str, object]:
    """For metrics.json: which Slurm job ran the run, and how often Slurm requeued it; nothing outside Slurm."""
    return {"slurm_job_id": os.environ["SLURM_JOB_ID"], "slurm_restarts": restart_count()} if in_slurm_job() else {}
