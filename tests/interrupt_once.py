"""A callback for tests: Ctrl-C (KeyboardInterrupt, as SIGINT raises it) in one job of a sweep, once."""

from pathlib import Path

import lightning as L
from hydra.core.hydra_config import HydraConfig


class InterruptOnce(L.Callback):
    """Raise KeyboardInterrupt at optimizer step `step` of job `job`, unless `marker` says it already did."""

    def __init__(self, job: int, step: int, marker: str) -> None:
        self.job, self.step, self.marker = job, step, Path(marker)

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step >= self.step and HydraConfig.get().job.num == self.job and not self.marker.exists():
            self.marker.touch()
            raise KeyboardInterrupt
