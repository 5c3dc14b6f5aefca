"""A callback for tests: job `job` of a sweep crashes at the start of training, as a bug would."""

import lightning as L
from hydra.core.hydra_config import HydraConfig


class FailInJob(L.Callback):
    def __init__(self, job: int) -> None:
        self.job = job

    def on_train_start(self, trainer: L.Trainer, *args) -> None:
        if HydraConfig.get().job.num == self.job:
            raise RuntimeError(f"job {self.job} crashes here on purpose")
