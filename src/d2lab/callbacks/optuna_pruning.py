"""Report the monitored metric of an Optuna trial at each validation, and stop the trial its pruner stops."""

import math

import lightning as L

from d2lab.errors import TrialPruned


class OptunaPruning(L.Callback):
    """The step reported is the validation's number (1, 2, ...), not the optimizer step: trials with other
    batch sizes take other numbers of steps per epoch, and a pruner compares trials at equal steps.

    The count is saved in checkpoints, so a resumed trial goes on reporting where it stopped."""

    def __init__(self, trial) -> None:
        self.trial = trial
        self.validations = 0

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        value = trainer.callback_metrics.get(pl_module.monitor)
        if value is None:
            return
        self.validations += 1
        value = float(value)
        prune = False
        if trainer.is_global_zero and math.isfinite(value):  # a NaN is DivergenceGuard's to stop
            self.trial.report(value, self.validations)
            prune = self.trial.should_prune()
        if trainer.strategy.broadcast(prune):  # every DDP process stops together
            raise TrialPruned(
                f"Pruned by Optuna at validation {self.validations} (optimizer step {trainer.global_step}): "
                f"{pl_module.monitor} = {value:.6g}.",
                step=trainer.global_step,
                validation=self.validations,
                value=value,
            )

    def state_dict(self) -> dict:
        return {"validations": self.validations}

    def load_state_dict(self, state_dict: dict) -> None:
        self.validations = int(state_dict.get("validations", 0))
