"""Stop a run as soon as its training loss stops being finite."""

import lightning as L
import torch

from d2lab.errors import DivergedError


class DivergenceGuard(L.Callback):
    """Flags a non-finite loss without a device sync per step: the flag is read every `check_every` steps
    and at the end of each epoch, then the run stops with a `DivergedError`."""

    def __init__(self, check_every: int = 16) -> None:
        self.check_every = max(int(check_every), 1)
        self._bad: torch.Tensor | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._bad = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        bad = ~torch.isfinite(loss.detach()).all()
        self._bad = bad if self._bad is None else self._bad | bad
        if (batch_idx + 1) % self.check_every == 0:
            self._check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def _check(self, trainer: L.Trainer) -> None:
        if self._bad is not None and bool(self._bad):
            epoch, step = trainer.current_epoch, trainer.global_step
            raise DivergedError(
                f"Training diverged: the training loss became NaN or infinite in epoch {epoch} "
                f"(by optimizer step {step}). Try a smaller learning rate (optimizer.lr), or scale the "
                "inputs (for thermometer: data.input_scale=0.1 or data.input_scale=standardize).",
                epoch=epoch,
                step=step,
            )
