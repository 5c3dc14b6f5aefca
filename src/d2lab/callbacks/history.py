"""The run's history for metrics.json: one record per validation, and the run's clocks. RunHistory is the one
owner of the records; the job's record, the summary, the live plot and the curve points read them through it."""

import time

import lightning as L

from d2lab.job.process_clock import seconds_since_process_start


class RunHistory(L.Callback):
    """Each record has `epoch`, `epochs` (epochs trained so far, a fraction inside an epoch, where the epoch's
    size is known), `step` (optimizer steps so far), `examples` (training examples so far), `time_s` (seconds of
    fit, continued across a resume), `train_time_s` (the same without evaluation: what the book's timer counts),
    `lr`, and the epoch means published at that validation: `val/*`, and `train/*` over the epoch's minibatches so
    far. The record of an epoch's last validation also gets `epoch_s`, the epoch's training seconds with
    validation left out. An epoch without a validation gets a record of its own, with its `train/*` metrics.
    Curve points between validations (CurveCadence) come in through `add_point`.

    `first_step_s` is the start-up a user feels: from process start to the first training step, or, for a job
    of a multirun (`job_started`, a perf_counter reading), from the job's start, so later jobs do not count the
    ones before them."""

    def __init__(self, job_started: float | None = None) -> None:
        self.records: list[dict] = []
        self.job_started = job_started
        self.first_step_s: float | None = None
        self.time_offset = 0.0  # seconds of fit before a resume
        self.restored: dict | None = None  # a checkpoint's state, applied when fit starts
        self.fit_start = self.epoch_start = self.val_start = self.val_seconds = 0.0
        # The book's timer: training only, from the first training batch on, less validations and curve points.
        self.train_offset = 0.0  # training seconds before a resume
        self.train_started: float | None = None  # perf_counter at this fit's first training batch
        self.eval_seconds = 0.0  # evaluation since then
        self.examples_per_epoch: int | None = None
        self.unrecorded_epoch: dict | None = None  # an epoch without validation, waiting for its train metrics
        self.validated_step = -1  # the optimizer step of the last validation

    # --- clocks ------------------------------------------------------------------------------------
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.restored is not None:  # fit resumed from a checkpoint: go on from its history and its clock
            self.records = self.restored["records"]
            self.time_offset = self.restored["time_s"]
            self.train_offset = self.restored["train_s"]
            self.restored = None
        train = getattr(trainer.datamodule, "train_set", None)  # in-memory data: its size; else learnt below
        self.examples_per_epoch = len(train[0]) if isinstance(train, tuple) and train else None
        self.fit_start = time.perf_counter()
        self.train_started, self.eval_seconds = None, 0.0

    def seconds(self) -> float:
        return self.time_offset + time.perf_counter() - self.fit_start

    def train_seconds(self) -> float:
        if self.train_started is None:
            return self.train_offset
        return self.train_offset + time.perf_counter() - self.train_started - self.eval_seconds

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if self.train_started is None:
            self.train_started = time.perf_counter()
        if self.first_step_s is None and self.job_started is not None:
            self.first_step_s = time.perf_counter() - self.job_started
        elif self.first_step_s is None:
            self.first_step_s = seconds_since_process_start()  # None where /proc is unavailable

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record_unrecorded_epoch(trainer)
        self.epoch_start = time.perf_counter()
        self.val_seconds = 0.0

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.val_start = time.perf_counter()

    # --- records -----------------------------------------------------------------------------------
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        self.count_evaluation(time.perf_counter() - self.val_start)
        self.validated_step = trainer.global_step
        self.add_point({**self.snapshot(trainer, pl_module), **self.metrics(trainer, ("train/", "val/"))})

    def count_evaluation(self, seconds: float) -> None:
        """Seconds spent evaluating (a validation, a curve point), which the training clocks leave out."""
        self.val_seconds += seconds
        if self.train_started is not None:
            self.eval_seconds += seconds

    def add_point(self, record: dict) -> None:
        """A record; one at the same optimizer step as the last (a curve point where a validation follows) is
        merged into it rather than drawn twice."""
        if self.records and self.records[-1].get("step") == record.get("step") != 0:
            self.records[-1].update(record)
        else:
            self.records.append(record)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning calls this before the task's own epoch end, which publishes the epoch's train metrics.
        epoch_s = time.perf_counter() - self.epoch_start - self.val_seconds
        if self.examples_per_epoch is None and trainer.current_epoch == 0:
            self.examples_per_epoch = getattr(pl_module, "examples_seen", None)
        last = self.records[-1] if self.records else None
        if last is not None and self.validated_step == trainer.global_step and last["step"] == trainer.global_step:
            last["epoch_s"] = epoch_s  # the epoch ended with a validation, which saw all of its minibatches
        else:  # its clock and lr now, before Lightning steps an epoch schedule; its train metrics come next
            self.unrecorded_epoch = {**self.snapshot(trainer, pl_module), "epoch_s": epoch_s}

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record_unrecorded_epoch(trainer)

    def record_unrecorded_epoch(self, trainer: L.Trainer) -> None:
        """Add the epoch that ended without a validation, once the task has published its train metrics."""
        if self.unrecorded_epoch is not None:
            metrics = self.metrics(trainer, ("train/",))
            self.add_point({**self.unrecorded_epoch, **metrics})  # merged into a curve point at the same step
            self.unrecorded_epoch = None

    def snapshot(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        """Where the run stands now: epoch, optimizer steps, examples, seconds and lr."""
        examples, seconds = getattr(pl_module, "examples_seen", None), self.seconds()
        return {
            "epoch": trainer.current_epoch,
            "epochs": examples / self.examples_per_epoch if examples is not None and self.examples_per_epoch else None,
            "step": trainer.global_step,
            "examples": examples,
            "time_s": seconds,
            "train_time_s": self.train_seconds(),
            "lr": float(trainer.optimizers[0].param_groups[0]["lr"]) if trainer.optimizers else None,
        }

    @staticmethod
    def metrics(trainer: L.Trainer, prefixes: tuple[str, ...]) -> dict[str, float]:
        return {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if key.startswith(prefixes) and not key.endswith("_best") and value.numel() == 1
        }

    # --- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"records": self.records, "time_s": self.seconds(), "train_s": self.train_seconds()}

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        # ModelCheckpoint saves at the end of an epoch without validation after the task published that epoch's
        # train metrics: its record is complete now, and goes into the same list state_dict handed over.
        self.record_unrecorded_epoch(trainer)

    def load_state_dict(self, state_dict: dict) -> None:
        # Applied when fit starts: testing best.ckpt after fit must not rewind this run's history to that epoch.
        self.restored = {
            "records": list(state_dict["records"]),
            "time_s": state_dict["time_s"],
            "train_s": state_dict.get("train_s", 0.0),  # checkpoints written before d2lab kept it
        }
