"""Ctrl-C saves a checkpoint to resume from."""

import lightning as L
from lightning.pytorch.callbacks import OnExceptionCheckpoint


class SaveOnInterrupt(OnExceptionCheckpoint):
    """Lightning's on-exception checkpoint, kept for KeyboardInterrupt only: a crash or a diverged run's
    NaN weights are nothing to resume from."""

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            super().on_exception(trainer, pl_module, exception)
