"""Ctrl-C, or SIGTERM (a Slurm requeue, preemption or `kill`), saves a checkpoint to resume from."""

from pathlib import Path

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException


class SaveOnInterrupt(L.Callback):
    """Writes `<dirpath>/<filename>.ckpt` when training is interrupted, and only then: a crash or a diverged
    run's NaN weights are nothing to resume from. Lightning turns SIGTERM into SIGTERMException at the end of
    the batch, so that checkpoint is taken between two steps. Not during validation or test: those are not a
    point training resumes from exactly (and test holds best.ckpt's weights); last.ckpt is the point then.
    (Lightning's OnExceptionCheckpoint is not used because its presence makes every later fit in the same
    folder resume silently from `last`.)"""

    def __init__(self, dirpath: str, filename: str = "interrupted") -> None:
        self.path = Path(dirpath) / f"{filename}.ckpt"

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt | SIGTERMException) and trainer.training:
            trainer.save_checkpoint(self.path)
