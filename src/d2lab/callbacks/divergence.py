"""Stop a run as soon as its loss blows up: NaN, infinite, or finite but far above where it started."""

import math

import lightning as L
import torch

from d2lab.checks.values import check_whole_number
from d2lab.errors import DivergedError

HINT = (
    "Try a smaller learning rate (optimizer.lr), or scale the inputs (for thermometer: data.input_scale=0.1 "
    "or data.input_scale=standardize)."
)


class DivergenceGuard(L.Callback):
    """A run has diverged when a training loss is NaN or infinite, when a training or validation loss is more
    than `max_loss_ratio` times the run's first training loss (taken as at least 1, so a tiny start does not
    make every later loss look huge), or when a parameter is no longer finite. `max_loss_ratio=null` checks
    only for non-finite values.

    The training losses are folded into one flag on the device and read every `check_every` steps and at each
    validation and epoch end, so there is no host sync per step."""

    def __init__(self, check_every: int = 16, max_loss_ratio: float | None = 1e4) -> None:
        self.check_every = check_whole_number("callbacks.divergence.check_every", check_every)
        self.max_loss_ratio = max_loss_ratio
        self.first_loss: float | None = None
        self.worst: torch.Tensor | None = None  # the largest training loss since the last check (NaN sticks)

    def limit(self) -> float:
        if self.max_loss_ratio is None or self.first_loss is None:
            return float("inf")
        return self.max_loss_ratio * max(abs(self.first_loss), 1.0)

    def blew_up(self, loss: float | None, trainer: L.Trainer) -> bool:
        """Whether a loss blew up on any process: under DDP all processes stop together, as EarlyStopping does."""
        local = loss is not None and (not math.isfinite(loss) or loss > self.limit())
        return trainer.strategy.reduce_boolean_decision(local, all=False)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        losses = loss.detach().float().flatten()  # a grouped regression step returns each of its steps' losses
        if self.first_loss is None:
            self.first_loss = float(losses[0])  # one host sync per run
        loss = losses.max()
        # torch.maximum propagates NaN, so a NaN anywhere since the last check is still seen at the check
        self.worst = loss if self.worst is None else torch.maximum(self.worst, loss)
        if (batch_idx + 1) % self.check_every == 0:
            self.check_training_loss(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        self.check_training_loss(trainer)
        val_loss = trainer.callback_metrics.get("val/loss")
        val_loss = None if val_loss is None else float(val_loss)
        if self.blew_up(val_loss, trainer):
            self.fail(trainer, f"the validation loss reached {float(val_loss):.4g}")
        self.check_parameters(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check_training_loss(trainer)
        self.check_parameters(trainer, pl_module)

    def check_training_loss(self, trainer: L.Trainer) -> None:
        worst = None if self.worst is None else float(self.worst)
        self.worst = None
        if self.blew_up(worst, trainer):
            self.fail(trainer, f"the training loss reached {worst:.4g}")

    def check_parameters(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        params = [p.detach().isfinite().all() for p in pl_module.parameters()]
        local = bool(params) and not bool(torch.stack(params).all())
        if trainer.strategy.reduce_boolean_decision(local, all=False):
            self.fail(trainer, "a parameter is no longer finite")

    def fail(self, trainer: L.Trainer, what: str) -> None:
        epoch, step = trainer.current_epoch, trainer.global_step
        bound = ""
        if self.first_loss is not None and self.max_loss_ratio is not None and "reached" in what:
            bound = (
                f", past {self.max_loss_ratio:g}× the first training loss {self.first_loss:.4g} "
                "(callbacks.divergence.max_loss_ratio)"
            )
        raise DivergedError(
            f"Training diverged in epoch {epoch} (by optimizer step {step}): {what}{bound}. {HINT}",
            epoch=epoch,
            step=step,
        )

    def state_dict(self) -> dict:
        return {"first_loss": self.first_loss}

    def load_state_dict(self, state_dict: dict) -> None:
        self.first_loss = state_dict.get("first_loss")
