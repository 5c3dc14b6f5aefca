"""A callback for tests: job `job` of a sweep crashes at the start of training, as a bug would (`raise`), or is
killed with SIGKILL, as the out-of-memory killer or a lost node would (`sigkill`)."""

import os
import signal

import lightning as L
from hydra.core.hydra_config import HydraConfig


class FailInJob(L.Callback):
    def __init__(self, job: int, how: str = "raise") -> None:
        self.job, self.how = job, how

    def on_train_start(self, trainer: L.Trainer, *args) -> None:
        if HydraConfig.get().job.num != self.job:
            return
        if self.how == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError(f"job {self.job} crashes here on purpose")
