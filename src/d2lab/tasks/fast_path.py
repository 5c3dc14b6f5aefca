"""The grouped fast path: whether a run may take several optimizer steps inside one Lightning step.

Tiny regression models spend more time in Lightning's per-step machinery than in the step itself, so
`data.steps_per_call` groups consecutive minibatches into one Lightning step (see RegressionTask). Lightning
counts some of its flags in Lightning steps, though; under grouping those would silently count groups. A run
that sets one of them takes one minibatch per Lightning step instead, where every flag means what Lightning's
docs say, and the log says so. Flags counted in epochs, optimizer steps or time (max_epochs, max_steps,
max_time, check_val_every_n_epoch, log_every_n_steps, a checkpoint's train_time_interval) and precision work on
the grouped path as they are.
"""

import logging

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import DictConfig

from d2lab.errors import ConfigError

log = logging.getLogger("d2lab")


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
    # ModelCheckpoint keeps its interval private, so it is read from the config that built it.
    for key, node in (callbacks or {}).items():
        if node is not None and node.get("every_n_train_steps"):
            flags.append(f"callbacks.{key}.every_n_train_steps={node.get('every_n_train_steps')}")
    return flags


def choose_steps_per_call(
    trainer: L.Trainer, datamodule: L.LightningDataModule, task: L.LightningModule, callbacks: DictConfig | None
) -> int:
    """Set the data module's `steps_per_call` and the task's optimization mode for this Trainer; returns it."""
    requested = getattr(datamodule, "steps_per_call", 1)
    if requested > 1:
        if not one_device(trainer):
            requested = 1  # DDP syncs gradients in backward: one optimizer step per Lightning step
        elif flags := flags_counted_in_batches(trainer, callbacks):
            log.info(
                "%s counts minibatches, so this run takes one minibatch per Lightning step "
                "(data.steps_per_call=1); the grouped fast path is off.",
                ", ".join(flags),
            )
            requested = 1
        datamodule.steps_per_call = requested
    if getattr(task, "manual_grad", False) and (trainer.gradient_clip_val or trainer.accumulate_grad_batches != 1):
        flag = "gradient_clip_val" if trainer.gradient_clip_val else "accumulate_grad_batches"
        raise ConfigError(
            f"trainer.{flag}={getattr(trainer, flag)} needs Lightning's automatic optimization, but "
            "model.manual_grad=true computes the gradients by hand, under manual optimization. Use "
            f"model.manual_grad=false (autograd, the same result), or leave out trainer.{flag}."
        )
    if hasattr(task, "manual_grad"):  # regression: manual optimization where a step holds several minibatches
        task.automatic_optimization = requested == 1 and not task.manual_grad
        task.plain_backward = can_skip_backward_hooks(trainer, task)
    check_val_check_interval(trainer, datamodule)
    return requested


def check_val_check_interval(trainer: L.Trainer, datamodule: L.LightningDataModule) -> None:
    """A whole-number val_check_interval counts an epoch's training batches; Lightning refuses one larger than an
    epoch only once fit has started, with a traceback. In-memory data knows its batches now."""
    interval = trainer.val_check_interval
    if not isinstance(interval, int) or trainer.check_val_every_n_epoch is None or trainer.fast_dev_run:
        return
    if not hasattr(datamodule, "train_set"):
        return
    datamodule.setup("fit")  # in-memory data is loaded once; Lightning's own setup call then finds it there
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
