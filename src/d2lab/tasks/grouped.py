"""The grouped fast path: several exact optimizer steps inside one Lightning step, decided once per fit.

Tiny regression models spend more time in Lightning's per-step machinery than in the step itself, so
`data.steps_per_call` groups consecutive minibatches into one Lightning step. Lightning counts some of its flags in
Lightning steps, though; under grouping those would silently count groups. A run that sets one of them takes one
minibatch per Lightning step instead, where every flag means what Lightning's docs say, and the log says so. Flags
counted in epochs, optimizer steps or time (max_epochs, max_steps, max_time, check_val_every_n_epoch,
log_every_n_steps, a checkpoint's train_time_interval) and precision work on the grouped path as they are.

Everything about it lives here:
- `GroupedSteps`, a callback whose `setup` decides once per fit (after Lightning has checked its flags and set up
  the data, before it builds the loaders and the optimizer) and hands the same frozen `Grouping` to the data module
  and the task, which only read it;
- `GroupedTraining`, the task's side: the K-step loop, its loss recording, its Ctrl-C accounting, and the schedules
  a manual step has to step itself.
"""

import logging
from dataclasses import dataclass

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import DictConfig
from torch import Tensor

from d2lab.callbacks.curve_cadence import CurveCadence
from d2lab.errors import ConfigError

log = logging.getLogger("d2lab")


@dataclass(frozen=True)
class Grouping:
    """What a fit runs: `steps_per_call` minibatches per Lightning step, under manual optimization (`manual`) where
    a step holds several or the gradients are computed by hand; `plain_backward` where autograd's backward may stand
    in for `manual_backward`; groups that also end every `ends_every_n_examples` examples of an epoch."""

    steps_per_call: int = 1
    manual: bool = False
    plain_backward: bool = False
    ends_every_n_examples: int | None = None


class GroupedSteps(L.Callback):
    """Decides the run's `Grouping` once, in Lightning's `setup` hook for fit. `callbacks` is the config that built
    the run's callbacks: ModelCheckpoint keeps its `every_n_train_steps` private, so it is read from there."""

    def __init__(self, callbacks: DictConfig | None = None) -> None:
        self.callbacks = callbacks
        self.grouping = Grouping()

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        self.grouping = decide(trainer, pl_module, self.callbacks)
        for reader in (trainer.datamodule, pl_module):
            if hasattr(reader, "grouping"):
                reader.grouping = self.grouping
        check_val_check_interval(trainer)


def decide(trainer: L.Trainer, task: L.LightningModule, callbacks: DictConfig | None) -> Grouping:
    if not isinstance(task, GroupedTraining):
        return Grouping()
    manual_grad = task.manual_grad
    if manual_grad and (trainer.gradient_clip_val or trainer.accumulate_grad_batches != 1):
        flag = "gradient_clip_val" if trainer.gradient_clip_val else "accumulate_grad_batches"
        raise ConfigError(
            f"trainer.{flag}={getattr(trainer, flag)} needs Lightning's automatic optimization, but "
            "model.manual_grad=true computes the gradients by hand, under manual optimization. Use "
            f"model.manual_grad=false (autograd, the same result), or leave out trainer.{flag}."
        )
    datamodule = trainer.datamodule
    requested = getattr(datamodule, "steps_per_call", None)
    if requested is None:  # a user's own data (DataLoaders): nothing here knows how to group it
        name = type(datamodule).__name__ if datamodule is not None else "The dataloaders given to fit"
        log.info("%s holds no d2lab in-memory data: one minibatch per Lightning step (no grouped fast path).", name)
        requested = 1
    elif requested > 1 and not one_device(trainer):
        requested = 1  # DDP syncs gradients in backward: one optimizer step per Lightning step
    elif requested > 1 and (flags := flags_counted_in_batches(trainer, callbacks)):
        log.info(
            "%s counts minibatches, so this run takes one minibatch per Lightning step "
            "(data.steps_per_call=1); the grouped fast path is off.",
            ", ".join(flags),
        )
        requested = 1
    manual = requested > 1 or manual_grad
    cadence = next((c.every for c in trainer.callbacks if isinstance(c, CurveCadence)), None)
    return Grouping(requested, manual, manual and can_skip_backward_hooks(trainer, task), cadence)


def is_default(value: object, default: float) -> bool:
    # Lightning reads an int as a count of batches and a float as a fraction: 1 is one batch, 1.0 is all of them.
    return isinstance(value, float) and value == default


def flags_counted_in_batches(trainer: L.Trainer, callbacks: DictConfig | None = None) -> list[str]:
    """The flags of `trainer` and its `callbacks` config that a grouped step would change the meaning of."""
    flags = []
    if trainer.fast_dev_run:
        flags.append(f"trainer.fast_dev_run={trainer.fast_dev_run}")
    elif trainer.overfit_batches:
        flags.append(f"trainer.overfit_batches={trainer.overfit_batches}")
    elif not is_default(trainer.limit_train_batches, 1.0):
        flags.append(f"trainer.limit_train_batches={trainer.limit_train_batches}")
    if not is_default(trainer.val_check_interval, 1.0):
        flags.append(f"trainer.val_check_interval={trainer.val_check_interval}")
    if trainer.gradient_clip_val:
        flags.append(f"trainer.gradient_clip_val={trainer.gradient_clip_val}")
    if trainer.accumulate_grad_batches != 1:
        flags.append(f"trainer.accumulate_grad_batches={trainer.accumulate_grad_batches}")
    for callback in trainer.callbacks:
        # It logs at Lightning's count of training steps, also with logging_interval=epoch.
        if isinstance(callback, LearningRateMonitor):
            flags.append(f"LearningRateMonitor(logging_interval={callback.logging_interval!r})")
    for key, node in (callbacks or {}).items():
        if node is not None and node.get("every_n_train_steps"):
            flags.append(f"callbacks.{key}.every_n_train_steps={node.get('every_n_train_steps')}")
    return flags


def check_val_check_interval(trainer: L.Trainer) -> None:
    """A whole-number val_check_interval counts an epoch's training batches; Lightning refuses one larger than an
    epoch only once the loop has started, with a traceback. In-memory data knows its batches now."""
    interval, datamodule = trainer.val_check_interval, trainer.datamodule
    if not isinstance(interval, int) or trainer.check_val_every_n_epoch is None or trainer.fast_dev_run:
        return
    if getattr(datamodule, "train_set", None) is None:
        return
    batches = datamodule.train_dataloader().num_batches
    limit = trainer.overfit_batches or trainer.limit_train_batches
    batches = min(batches, limit) if isinstance(limit, int) else int(batches * limit)
    if interval > batches:
        raise ConfigError(
            f"trainer.val_check_interval={interval} counts training batches, but an epoch here has {batches}. "
            f"Use at most {batches}, a fraction of an epoch such as 0.5, or trainer.check_val_every_n_epoch=null "
            "to count batches across epochs."
        )


def one_device(trainer: L.Trainer) -> bool:
    return trainer.num_devices * trainer.num_nodes == 1


def overrides(obj: object, hook: str, base: type) -> bool:
    return getattr(type(obj), hook, None) is not getattr(base, hook)


def can_skip_backward_hooks(trainer: L.Trainer, task: L.LightningModule) -> bool:
    """Whether a manual step may call autograd's backward itself instead of `manual_backward`.

    `manual_backward` exists to scale fp16 losses, to let strategies such as DeepSpeed own the backward, and to
    call the `on_before_backward`/`on_after_backward` hooks; on one device, at a precision without loss scaling
    and with no callback or task that implements those hooks, it adds only time to every optimizer step."""
    hooks = ("on_before_backward", "on_after_backward")
    hooked = any(overrides(c, h, L.Callback) for c in trainer.callbacks for h in hooks)
    hooked |= any(overrides(task, h, L.LightningModule) for h in hooks)
    return one_device(trainer) and not hooked and trainer.precision in ("32-true", "64-true", "bf16-mixed", "bf16-true")


class GroupedTraining:
    """The task's side of the grouped path, mixed into a d2lab Task (it uses the Task's `net`, `loss`,
    `loss_meters`, `count_examples`, `log_step_losses` and `schedule`). Where `grouping.manual`, each training
    step runs one exact optimizer step per minibatch it holds; elsewhere it is the Task's own automatic step.
    A task that computes gradients by hand sets `manual_grad` and implements `step_by_hand`."""

    manual_grad = False
    grouping = Grouping()  # automatic optimization until GroupedSteps decides, so Lightning checks its flags as such

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.weights_cache: dict[tuple, Tensor] = {}

    @property
    def automatic_optimization(self) -> bool:
        return not self.grouping.manual

    def step_by_hand(self, x: Tensor, y: Tensor) -> Tensor:
        """Set the net's gradients for (x, y) without autograd; return the loss."""
        raise NotImplementedError

    def training_step(self, batch: tuple[Tensor, Tensor] | list[tuple[Tensor, Tensor]], batch_idx: int) -> Tensor:
        if not self.grouping.manual:
            return super().training_step(batch, batch_idx)
        return self.fit_minibatches(batch if isinstance(batch, list) else [batch])

    def fit_minibatches(self, minibatches: list[tuple[Tensor, Tensor]]) -> Tensor:
        """One exact optimizer step per minibatch, through Lightning's optimizer wrapper (which counts the step
        in `global_step` and calls the optimizer hooks) and, where needed, `manual_backward`. Stops at
        `max_steps`."""
        max_steps = self.trainer.max_steps
        if max_steps >= 0:
            minibatches = minibatches[: max(max_steps - self.global_step, 0)]
        optimizer, first_step = self.optimizers(), self.global_step + 1
        # Looked up once per call, not per minibatch: nn.Module attribute look-ups are slow next to a tiny step.
        net, loss_fn, manual_grad = self.net, self.loss, self.manual_grad
        backward = Tensor.backward if self.grouping.plain_backward else self.manual_backward
        stepped_schedule = self.schedule is not None and self.schedule.interval == "step"
        losses = []
        try:
            for x, y in minibatches:
                optimizer.zero_grad()
                if manual_grad:
                    loss = self.step_by_hand(x, y)
                else:
                    loss = loss_fn(net(x), y)
                    backward(loss)
                optimizer.step()
                if stepped_schedule:
                    self.lr_schedulers().step()
                # Detached once, below; backward already freed the tensors each loss's graph saved.
                losses.append(loss)
        except KeyboardInterrupt:
            # Ctrl-C inside the group: what was stepped on is counted, the rest is still to come on resume
            if hasattr(self.trainer.datamodule, "give_back"):
                self.trainer.datamodule.give_back(len(minibatches) - len(losses))
            if losses:
                self.record_losses(losses, minibatches[: len(losses)], first_step)
            raise
        return self.record_losses(losses, minibatches, first_step)

    def record_losses(self, losses: list[Tensor], minibatches: list, first_step: int) -> Tensor:
        """The group's losses into the epoch's mean, the examples count and the step log."""
        with torch.no_grad():
            losses = torch.stack(losses)
        sizes = tuple(len(y) for _, y in minibatches)
        self.loss_meters["train_"].update(losses, self.batch_weights(sizes, losses.device))
        self.count_examples(sum(sizes))
        # By hand: a group's K losses belong to K optimizer steps, and self.log takes one value per Lightning step.
        self.log_step_losses(losses, first_step)
        return losses  # every step's loss, so callbacks such as the divergence guard see each one

    def batch_weights(self, sizes: tuple[int, ...], device: torch.device) -> Tensor:
        """The minibatch sizes as a float64 tensor on `device`, cached: a group's sizes repeat every epoch."""
        key = (sizes, device)
        if key not in self.weights_cache:
            self.weights_cache[key] = torch.tensor(sizes, dtype=torch.float64, device=device)
        return self.weights_cache[key]

    def log_epoch(self, values: dict[str, Tensor | float]) -> None:
        """On the grouped path, epoch metrics go straight to `callback_metrics` and the loggers, at the same step and
        with the same keys as the Task's `self.log_dict`: Lightning's logging of a handful of epoch values costs as
        much as a grouped epoch of a tiny model (docs/benchmarks.md). They are epoch means already; on one device
        there is nothing to reduce."""
        if self.grouping.steps_per_call == 1:
            return super().log_epoch(values)
        self.trainer.callback_metrics.update(
            {k: v if isinstance(v, Tensor) else torch.tensor(v, dtype=torch.float64) for k, v in values.items()}
        )
        if self.trainer.is_global_zero:
            floats = {k: float(v) for k, v in values.items()}
            for logger in self.trainer.loggers:
                logger.log_metrics({**floats, "epoch": self.current_epoch}, step=self.global_step)

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()  # logs the lr the epoch trained with, before an epoch schedule moves it
        # Lightning steps schedules under automatic optimization only.
        if self.grouping.manual and self.schedule is not None and self.schedule.interval == "epoch":
            self.lr_schedulers().step()

    def optimizer_steps_in_run(self) -> int:
        """Lightning counts training steps; a grouped step holds several optimizer steps, one per minibatch."""
        epochs = self.trainer.max_epochs
        if self.grouping.steps_per_call == 1 or epochs is None or epochs < 0:
            return super().optimizer_steps_in_run()  # also Lightning's rule for max_epochs=-1: max_steps
        total = self.trainer.datamodule.train_dataloader().num_batches * max(epochs, 1)
        return min(total, self.trainer.max_steps) if self.trainer.max_steps >= 0 else total
