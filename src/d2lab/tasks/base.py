"""What every d2lab task shares: optimizer and schedule from config, per-epoch metrics, history, best value."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import lightning as L
import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection

from d2lab.errors import ConfigError, check_choice
from d2lab.optim.schedules import Constant, Schedule
from d2lab.process_clock import seconds_since_process_start
from d2lab.tasks.running_mean import RunningMean

log = logging.getLogger("d2lab")
STAGES = ("train", "val", "test")


def check_optimizer(optimizer: Callable) -> None:
    """Build the optimizer once on a dummy parameter, so a bad lr fails before any data is touched."""
    name = getattr(getattr(optimizer, "func", optimizer), "__name__", str(optimizer))
    lr = optimizer.keywords.get("lr") if isinstance(optimizer, partial) else None
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0):
        raise ConfigError(
            f"optimizer.lr={lr!r} is invalid for {name}: the learning rate must be a positive number "
            "(the book uses 0.03 for linear regression, 0.005–1 on airfoil)."
        )
    try:
        optimizer([nn.Parameter(torch.zeros(1))])
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"The optimizer config for {name} is invalid: {exc}") from exc


@dataclass
class EpochState:
    """What a task notes during an epoch (clock readings, the epoch's lr), kept in a plain object: assigning an
    attribute of an nn.Module goes through its __setattr__, ~4.5 µs each on a small CPU."""

    fit_start: float = 0.0
    epoch_start: float = 0.0
    val_start: float = 0.0
    val_seconds: float = 0.0  # validation time inside the current training epoch
    lr: float = 0.0


class Task(L.LightningModule):
    """Subclasses define `loss(y_hat, y)` and `make_metrics()`; `monitor`/`mode` name the optimized metric."""

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Schedule | None = None,
        monitor: str = "val/loss",
        mode: str = "min",
        decay_weights_only: bool = False,
    ) -> None:
        super().__init__()
        check_choice("task.mode", mode, ("min", "max"))
        check_optimizer(optimizer)
        self.net = net
        self.optimizer_factory = optimizer
        # A constant schedule needs no LR scheduler: its wrapper around optimizer.step costs ~7 µs a step.
        self.schedule = None if isinstance(scheduler, Constant) else scheduler
        self.monitor = monitor
        self.mode = mode
        self.decay_weights_only = decay_weights_only
        # ModuleDict keys may not shadow nn.Module attributes such as `train`, hence the suffix.
        self.loss_meters = nn.ModuleDict({f"{s}_": RunningMean() for s in STAGES})
        self.stage_metrics = nn.ModuleDict({f"{s}_": self.make_metrics() for s in STAGES})
        for metric in (*self.loss_meters.values(), *self.stage_metrics.values()):
            metric.persistent(True)  # an epoch's running sums go into checkpoints: exact mid-epoch resume
        self.best: float | None = None
        self.history: list[dict[str, float]] = []
        self.test_results: dict[str, float] = {}
        self.first_step_s: float | None = None
        self._first_step_seen = False
        self._last_val: dict[str, float] = {}
        self._epoch = EpochState()

    def __setattr__(self, name: str, value: object) -> None:
        # Lightning sets `_current_fx_name` before and after every hook it calls, ~30 times an epoch; through
        # nn.Module.__setattr__ that costs ~4.5 µs each on a small CPU. It is a plain string attribute.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # --- what a subclass provides -------------------------------------------------------------------
    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def make_metrics(self) -> MetricCollection:
        return MetricCollection({})

    # --- steps -------------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch
        y_hat = self.net(x)
        loss = self.loss(y_hat, y)
        self.update_metrics(stage, loss, y_hat, y)
        return loss

    def update_metrics(self, stage: str, loss: Tensor, y_hat: Tensor, y: Tensor) -> None:
        self.loss_meters[f"{stage}_"].update(loss.detach(), weight=len(y))
        if self.stage_metrics[f"{stage}_"]:
            self.stage_metrics[f"{stage}_"].update(y_hat.detach(), y)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self.shared_step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.shared_step(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        x, y = batch
        return {"output": self.net(x), "target": y}

    # --- per-epoch metrics ---------------------------------------------------------------------------
    def compute_stage(self, stage: str) -> dict[str, Tensor]:
        loss_meter, metrics = self.loss_meters[f"{stage}_"], self.stage_metrics[f"{stage}_"]
        values = {f"{stage}/loss": loss_meter.compute_and_reset()}
        if metrics:  # an empty collection still costs ~20 µs to compute and reset
            values.update({f"{stage}/{k}": v for k, v in metrics.compute().items()})
            metrics.reset()
        return values

    def on_fit_start(self) -> None:
        self._epoch.fit_start = time.perf_counter()

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        if not self._first_step_seen:  # start-up cost as a user feels it: process start to first step
            self._first_step_seen = True
            self.first_step_s = seconds_since_process_start()  # None where /proc is unavailable

    def on_train_epoch_start(self) -> None:
        state = self._epoch
        state.epoch_start = time.perf_counter()
        state.val_seconds = 0.0
        state.lr = float(self.optimizers().param_groups[0]["lr"])  # Lightning steps the schedule before epoch end

    def on_validation_model_zero_grad(self) -> None:
        # Lightning frees the gradients before validating by walking every submodule, metrics included
        # (~40 µs); only the net holds parameters.
        self.net.zero_grad()

    def on_validation_epoch_start(self) -> None:
        self._epoch.val_start = time.perf_counter()

    def on_validation_epoch_end(self) -> None:
        self._epoch.val_seconds += time.perf_counter() - self._epoch.val_start
        if self.trainer.sanity_checking:
            self.compute_stage("val")
            return
        values = self.compute_stage("val")
        current = values.get(self.monitor)
        current = None if current is None else float(current)
        if current is not None and current == current:  # NaN never becomes the best
            better = min if self.mode == "min" else max
            self.best = current if self.best is None else better(self.best, current)
            values[f"{self.monitor}_best"] = self.best
        self._last_val = self.publish(values)
        self._last_val.pop(f"{self.monitor}_best", None)  # the history keeps per-epoch values only

    def on_train_epoch_end(self) -> None:
        now, state = time.perf_counter(), self._epoch
        values = self.compute_stage("train")
        values["lr"] = state.lr
        record = {
            "epoch": self.current_epoch,
            "time_s": now - state.fit_start,
            "epoch_s": now - state.epoch_start - state.val_seconds,  # training only: validation excluded
            **self.publish(values),
        }
        if not self.automatic_optimization:
            self.step_schedulers("epoch")
        record.update(self._last_val)
        self.history.append(record)

    def on_test_epoch_end(self) -> None:
        self.test_results = self.publish(self.compute_stage("test"))

    def publish(self, values: dict[str, Tensor | float]) -> dict[str, float]:
        """Per-epoch metrics straight to `callback_metrics` (checkpoints, early stopping) and the loggers;
        returns them as floats.

        `self.log` costs ~5 ms a call on this CPU, more than a whole airfoil epoch at batch 100; metrics
        here are already epoch means (torchmetrics syncs them across processes), so nothing is lost.
        """
        floats = {k: float(v) for k, v in values.items()}
        # The computed 0-dim tensors go in as they are; only plain numbers need a tensor (~8 µs each).
        self.trainer.callback_metrics.update(
            {k: v if isinstance(v, Tensor) else torch.tensor(v) for k, v in values.items()}
        )
        if self.trainer.is_global_zero:
            for logger in self.trainer.loggers:
                logger.log_metrics({**floats, "epoch": self.current_epoch}, step=self.global_step)
        return floats

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["d2lab"] = {"history": self.history, "best": self.best, "last_val": self._last_val}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if self._trainer is not None and self.trainer.state.fn != "fit":
            return  # testing best.ckpt after fit: keep this run's full history, not the one saved at that epoch
        state = checkpoint.get("d2lab", {})
        self.history[:] = state.get("history", [])  # the same list object: the run record points at it
        self.best = state.get("best")
        self._last_val = state.get("last_val", {})

    # --- optimizer and schedule ----------------------------------------------------------------------
    def configure_optimizers(self):
        params = [p for p in self.trainer.model.parameters() if p.requires_grad]
        if self.decay_weights_only:
            # The book's per-parameter-group example: decay weights (ndim >= 2), never biases or norm scales.
            params = [
                {"params": [p for p in params if p.ndim >= 2]},
                {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
            ]
        optimizer = self.optimizer_factory(params)
        if self.schedule is None:
            return optimizer
        if self.schedule.interval == "epoch":
            total = self.trainer.max_epochs if self.trainer.max_epochs and self.trainer.max_epochs > 0 else 1
        else:
            total = int(self.trainer.estimated_stepping_batches)
            steps_per_call = getattr(self.trainer.datamodule, "steps_per_call", 1)
            if steps_per_call > 1:  # Lightning counts calls; each call holds up to steps_per_call optimizer steps
                per_epoch = self.trainer.datamodule.train_dataloader().num_batches
                total = per_epoch * max(self.trainer.max_epochs, 1)
        scheduler = self.schedule.build(optimizer, total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.schedule.interval}}

    def step_schedulers(self, interval: str) -> None:
        """Manual optimization steps its own schedules; automatic optimization leaves this to Lightning."""
        if self.schedule is not None and self.schedule.interval == interval:
            scheduler = self.lr_schedulers()
            scheduler.step()
