"""What every d2lab task shares: optimizer and schedule from config, the loss and metrics of each stage, best value."""

import logging
from collections.abc import Callable, Iterable
from functools import partial

import lightning as L
import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection

from d2lab.checks.values import check_choice
from d2lab.errors import ConfigError
from d2lab.optim.schedules import Constant, Schedule
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


class Task(L.LightningModule):
    """Subclasses define `loss(y_hat, y)` and `make_metrics()`; `monitor`/`mode` name the optimized metric.

    Metrics are epoch means, logged at each validation and each epoch's end through `self.log_dict`. The train
    metrics seen at a validation are the means over the epoch's minibatches so far (the book's Animator view).
    `examples_seen` counts training examples over the run (all processes), for the history's x-axis."""

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
        # A constant schedule needs no LR scheduler: nothing to step each epoch or step, nothing to checkpoint.
        self.schedule = None if isinstance(scheduler, Constant) else scheduler
        self.monitor = monitor
        self.mode = mode
        self.decay_weights_only = decay_weights_only
        # ModuleDict keys may not shadow nn.Module attributes such as `train`, hence the suffix.
        self.loss_meters = nn.ModuleDict({f"{s}_": RunningMean() for s in STAGES})
        self.stage_metrics = nn.ModuleDict({f"{s}_": self.make_metrics() for s in STAGES})
        for metric in (*self.loss_meters.values(), *self.stage_metrics.values()):
            metric.persistent(True)  # an epoch's running sums go into checkpoints: exact mid-epoch resume
        names = self.metric_names()
        if monitor not in names:
            raise ConfigError(
                f"task.monitor={monitor!r} is not a metric this task publishes. Valid choices: {', '.join(names)}."
            )
        self.best: float | None = None
        self.evaluation_metrics: MetricCollection | None = None  # evaluate()'s own, made on first use
        self.examples_seen = 0
        self.test_results: dict[str, float] = {}

    # --- what a subclass provides -------------------------------------------------------------------
    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def make_metrics(self) -> MetricCollection:
        return MetricCollection({})

    def metric_names(self) -> list[str]:
        """The metrics `monitor` may name: each stage's loss and its metrics, at train and validation."""
        names = ["loss", *self.stage_metrics["val_"].keys()]
        return [f"{stage}/{name}" for stage in ("val", "train") for name in names]

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
        self.loss_meters[f"{stage}_"].update(loss, weight=len(y))
        if self.stage_metrics[f"{stage}_"]:
            self.stage_metrics[f"{stage}_"].update(y_hat.detach(), y)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        self.count_examples(len(batch[1]))
        loss = self.shared_step(batch, "train")
        if (batch_idx + 1) % self.trainer.accumulate_grad_batches == 0 or self.trainer.is_last_batch:
            self.log_step_losses(loss.detach().view(1), first_step=self.global_step + 1)  # the step this batch ends
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.shared_step(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        x, y = batch
        return {"output": self.net(x), "target": y}

    def log_step_losses(self, losses: Tensor, first_step: int) -> None:
        """`train/loss_step` at every `trainer.log_every_n_steps`-th optimizer step, as Lightning's docs describe
        that flag; `losses` are the losses of optimizer steps first_step, first_step + 1, ..."""
        every = self.trainer.log_every_n_steps
        if not every or not self.trainer.loggers or not self.trainer.is_global_zero:
            return
        for i in range(-first_step % every, len(losses), every):
            for logger in self.trainer.loggers:
                logger.log_metrics({"train/loss_step": float(losses[i])}, step=first_step + i)

    def count_examples(self, local_examples: int) -> None:
        # Each process takes an equal share of every global batch (see TensorBatches).
        self.examples_seen += local_examples * self.trainer.world_size

    # --- per-epoch metrics ---------------------------------------------------------------------------
    def compute_stage(self, stage: str, reset: bool = True) -> dict[str, Tensor]:
        loss_meter, metrics = self.loss_meters[f"{stage}_"], self.stage_metrics[f"{stage}_"]
        values = {f"{stage}/loss": loss_meter.compute()}
        if metrics:  # an empty collection still costs time to compute and reset
            values.update({f"{stage}/{k}": v for k, v in metrics.compute().items()})
        if reset:
            loss_meter.reset()
            metrics.reset()
        return values

    @torch.no_grad()
    def evaluate(self, batches: Iterable[tuple[Tensor, Tensor]], stage: str = "val") -> dict[str, float]:
        """The loss and metrics over `batches` (already on the device), in eval mode, leaving the epoch's running
        metrics alone: the book's `evaluate_loss`, for a curve point between Lightning's validations."""
        if self.evaluation_metrics is None:
            self.evaluation_metrics = self.make_metrics().to(self.device)
        was_training = self.net.training
        self.net.eval()
        total, count = torch.zeros((), device=self.device, dtype=torch.float64), 0
        try:
            for x, y in batches:
                y_hat = self.net(x)
                total += self.loss(y_hat, y).double() * len(y)
                count += len(y)
                if self.evaluation_metrics:
                    self.evaluation_metrics.update(y_hat, y)
        finally:
            self.net.train(was_training)
        values = {f"{stage}/loss": float(total / max(count, 1))}
        if self.evaluation_metrics:
            values.update({f"{stage}/{k}": float(v) for k, v in self.evaluation_metrics.compute().items()})
            self.evaluation_metrics.reset()
        return values

    def on_validation_model_zero_grad(self) -> None:
        # Lightning frees the gradients before validating by walking every submodule, metrics included;
        # only the net holds parameters.
        self.net.zero_grad()

    def on_validation_epoch_end(self) -> None:
        values = self.compute_stage("val")
        if self.trainer.sanity_checking:
            return
        current = values.get(self.monitor)
        current = None if current is None else float(current)
        if current is not None and current == current:  # NaN never becomes the best
            better = min if self.mode == "min" else max
            self.best = current if self.best is None else better(self.best, current)
            values[f"{self.monitor}_best"] = self.best
        if self.trainer.state.fn == "fit" and self.loss_meters["train_"].update_called:
            values.update(self.compute_stage("train", reset=False))  # the epoch so far
        self.log_epoch(values)

    def on_train_epoch_end(self) -> None:
        values = self.compute_stage("train")
        values["lr"] = float(self.optimizers().param_groups[0]["lr"])
        self.log_epoch(values)

    def on_test_epoch_end(self) -> None:
        values = self.compute_stage("test")
        self.test_results = {k: float(v) for k, v in values.items()}
        self.log_epoch(values)

    def log_epoch(self, values: dict[str, Tensor | float]) -> None:
        """Epoch means through Lightning's `self.log_dict`, into `callback_metrics` and the loggers.

        They are logged at `step` = optimizer steps so far, the x-axis of every d2lab curve (Lightning's default
        counts Lightning steps, one less at a training epoch's end), hence `epoch` too, which Lightning adds only
        where it picks the step. They are already synced across processes (torchmetrics), so `sync_dist` reduces
        equal values: it keeps Lightning from warning under DDP."""
        values = {**values, "epoch": self.current_epoch, "step": self.global_step}
        # Lightning would store a Python number as float32: the lr and the step keep every digit in float64, on the
        # device, where a DDP reduction can reach them.
        values = {
            k: v if isinstance(v, Tensor) else torch.tensor(v, dtype=torch.float64, device=self.device)
            for k, v in values.items()
        }
        self.log_dict(values, on_step=False, on_epoch=True, sync_dist=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["d2lab"] = {"best": self.best, "examples_seen": self.examples_seen}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("d2lab", {})
        self.best = state.get("best")
        self.examples_seen = state.get("examples_seen", 0)

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
            total = self.optimizer_steps_in_run()
        scheduler = self.schedule.build(optimizer, total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.schedule.interval}}

    def optimizer_steps_in_run(self) -> int:
        """How many optimizer steps fit will take, for a schedule counted in steps (Lightning's estimate)."""
        total = self.trainer.estimated_stepping_batches
        if total == float("inf"):
            raise ConfigError(
                "scheduler.interval=step needs a run of known length, but trainer.max_epochs=-1 and "
                "trainer.max_steps=-1 set no limit: set one of them, or use scheduler.interval=epoch."
            )
        return int(total)
