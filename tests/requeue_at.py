"""A callback for tests: at optimizer step `step`, on a job's first run, one of the ways a job is stopped to be
requeued: `scontrol requeue` on this Slurm job (Slurm then sends SIGTERM), `scancel --signal=USR2` (the signal
Slurm sends ahead of the time limit, on which submitit checkpoints and requeues), or outside Slurm a plain SIGTERM."""

import os
import signal
import subprocess
import time

import lightning as L

from d2lab.job.slurm_requeue import in_slurm_job, restart_count


class RequeueAt(L.Callback):
    def __init__(self, step: int, how: str = "requeue") -> None:
        self.step, self.how = step, how
        self.sent = False

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if self.sent or trainer.global_step < self.step or restart_count() > 0:
            return
        self.sent = True
        # An array's first task has the array's own id, which would reach every task: name this one.
        array = os.environ.get("SLURM_ARRAY_JOB_ID")
        job = f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array else os.environ.get("SLURM_JOB_ID")
        if in_slurm_job() and self.how == "usr2":
            subprocess.run(["scancel", "--signal=USR2", job], check=True)
        elif in_slurm_job():
            subprocess.run(["scontrol", "requeue", job], check=True)
        else:
            os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 60
        while not trainer.received_sigterm and time.monotonic() < deadline:  # the signal is on its way
            time.sleep(0.05)
