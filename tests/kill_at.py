"""A callback for tests: the process kills itself with SIGKILL, as an OOM killer or a pre-empted node would."""

import os
import signal

import lightning as L


class KillAt(L.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)
