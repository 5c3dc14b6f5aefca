"""More points on a run's curve than Lightning's validations give, at the book's cadence: the loss every N
training examples, as the book's `train_ch11` draws its chapter-12 comparisons (d2lab adds one before training, where
the curve starts); and the training curve several times an epoch, as the Animator of the book's `train_ch6` draws its
image chapters.

The training curve's points are the running means of the epoch so far (`Task.compute_stage("train", reset=False)`:
no extra forward pass, no validation), recorded at evenly spaced batches of the epoch, its last batch included.

Each point evaluates the task on the validation data (`Task.evaluate`, in eval mode, without touching the epoch's
metrics) and goes into the run's history with its step, examples, fractional epoch and clocks; its time counts as
evaluation, not training. The points are counted from each epoch's start, so an epoch of 1500 examples at N=200
gets 7, then Lightning's validation at its end (the book counts across the run: its second epoch's points fall at
1600, ..., 3000 where d2lab's fall at 1700, ..., 2900 and 3000, and its GD draws every second epoch where d2lab's
draws each). Counting per epoch gives every epoch the same cut points, so Lightning's count of a grouped epoch's
steps holds. On the grouped fast path, groups end where a point falls due, so each point sees the parameters of
exactly that optimizer step.
"""

import time
from collections.abc import Iterator
from typing import Any

import lightning as L

from d2lab.callbacks.history import RunHistory
from d2lab.checks.values import check_whole_number


class CurveCadence(L.Callback):
    """Both null adds nothing: the curve has Lightning's validations only."""

    def __init__(self, val_every_n_examples: int | None = None, train_points_per_epoch: int | None = None) -> None:
        if val_every_n_examples is not None:
            check_whole_number(
                "callbacks.curve.val_every_n_examples", val_every_n_examples, 1, " (training examples), or null"
            )
        if train_points_per_epoch is not None:
            check_whole_number("callbacks.curve.train_points_per_epoch", train_points_per_epoch, 1, ", or null")
        self.every = val_every_n_examples
        self.train_points = train_points_per_epoch
        self.history: RunHistory | None = None
        self.epoch = 0
        self.epoch_start_examples = 0  # examples_seen when the current epoch began
        self.points_in_epoch = 0
        self.restored: dict | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit" or not (self.every or self.train_points):
            return
        self.history = next((c for c in trainer.callbacks if isinstance(c, RunHistory)), None)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.every and self.history is not None and pl_module.examples_seen == 0 and not self.history.records:
            self.add_point(trainer, pl_module)  # the curve starts where training does
        # A run resumed inside an epoch does not start that epoch again: Lightning skips on_train_epoch_start.
        self.on_train_epoch_start(trainer, pl_module)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.restored is not None and self.restored["epoch"] == trainer.current_epoch:  # resumed inside it
            self.epoch_start_examples = self.restored["epoch_start_examples"]
        elif trainer.current_epoch != self.epoch or pl_module.examples_seen == 0:  # not the epoch on_train_start began
            self.epoch_start_examples = pl_module.examples_seen
        self.restored = None
        self.epoch = trainer.current_epoch
        self.points_in_epoch = (pl_module.examples_seen - self.epoch_start_examples) // self.every if self.every else 0

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.history is None:
            return
        if self.train_points:  # a point where batch_idx crosses one of the epoch's P even parts
            batches, parts = trainer.num_training_batches, self.train_points
            if (batch_idx + 1) * parts // batches > batch_idx * parts // batches:
                running = pl_module.compute_stage("train", reset=False)
                self.history.add_point(
                    {**self.history.snapshot(trainer, pl_module), **{k: float(v) for k, v in running.items()}}
                )
        if self.every:
            due = self.examples_in_epoch(trainer, pl_module, batch_idx) // self.every
            if due > self.points_in_epoch:
                self.points_in_epoch = due
                self.add_point(trainer, pl_module)

    def examples_in_epoch(self, trainer: L.Trainer, pl_module: L.LightningModule, batch_idx: int) -> int:
        """Training examples of this epoch so far. Under DDP every process must find the same points (an evaluation
        with metrics waits for all of them), and each counts only its own share of a batch, which may differ by one:
        there it is the global batches so far, capped at the epoch's size."""
        batch_size = getattr(trainer.datamodule, "batch_size", None)
        rows = self.history.examples_per_epoch
        if trainer.world_size > 1 and batch_size and rows:
            return min((batch_idx + 1) * batch_size, rows)
        return pl_module.examples_seen - self.epoch_start_examples

    def add_point(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        record = self.history.snapshot(trainer, pl_module)  # its clocks stand where the point fell due
        started = time.perf_counter()
        with trainer.precision_plugin.forward_context():  # bf16-mixed as Lightning's own validation runs it
            record.update(pl_module.evaluate(self.device_batches(trainer, pl_module)))
        self.history.count_evaluation(time.perf_counter() - started)
        self.history.add_point(record)

    @staticmethod
    def device_batches(trainer: L.Trainer, pl_module: L.LightningModule) -> Iterator[Any]:
        """The validation batches as a validation step receives them: on the device, after the data module's
        own batch hooks (Fashion-MNIST scales and resizes there)."""
        data = trainer.datamodule
        for batch in data.val_dataloader():
            batch = data.transfer_batch_to_device(batch, pl_module.device, 0)
            yield data.on_after_batch_transfer(batch, 0)

    # A checkpoint taken inside an epoch resumes counting that epoch's points from its start.
    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "epoch_start_examples": self.epoch_start_examples}

    def load_state_dict(self, state_dict: dict) -> None:
        self.restored = dict(state_dict)
