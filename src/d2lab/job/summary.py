"""A run's summary: the numbers metrics.json opens with once fit and test are done, and its history last."""

import logging
import statistics
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import lightning as L

    from d2lab.callbacks.history import RunHistory

log = logging.getLogger("d2lab")


def early_stop(trainer: "L.Trainer") -> dict:
    """With callbacks=early_stopping: whether Lightning's EarlyStopping ended the fit, and at which epoch. Read
    before the test, which restores the callbacks' state from its checkpoint."""
    stopper = trainer.early_stopping_callback
    if stopper is None:
        return {}
    if stopper.stopped_epoch > 0:
        log.info("Early stopping at epoch %d: %s did not improve for %d validations",
                 stopper.stopped_epoch, stopper.monitor, stopper.patience)  # fmt: skip
        return {"stopped_early": True, "stopped_epoch": stopper.stopped_epoch}
    return {"stopped_early": False}


def summarize(trainer: "L.Trainer", task: "L.LightningModule", history: "RunHistory", stopped: dict) -> dict:
    """The run's final metrics, its best, epochs, steps and clocks, the task's test results and fit report,
    `stopped` (early_stop's), how it ran, and then its history (`history.records`)."""
    import torch

    records = history.records
    # callback_metrics also come back from ddp_spawn workers, where the history stays behind
    summary: dict = {k: float(v) for k, v in trainer.callback_metrics.items() if "/" in k and v.numel() == 1}
    summary.update(best=task.best if task.best is not None else summary.get(f"{task.monitor}_best"))
    summary["epochs"] = records[-1]["epoch"] + 1 if records else trainer.current_epoch
    if records:  # ddp_spawn leaves the history, and the workers' global_step, in the workers
        summary["steps"] = records[-1]["step"]
    if history.first_step_s is not None:
        summary["time/first_step_s"] = history.first_step_s
    if records:
        last = records[-1]
        summary.update({k: v for k, v in last.items() if "/" in k})
        epoch_seconds = [h["epoch_s"] for h in records if "epoch_s" in h]
        if epoch_seconds:
            summary["time/epoch_s"] = statistics.median(epoch_seconds)
        summary["time/fit_s"] = last["time_s"]
    summary.update(task.test_results)
    summary.update(getattr(task, "fit_report", {}))
    summary.update(stopped)
    summary["torch_threads"] = torch.get_num_threads()  # a launcher that runs jobs side by side shares the cores
    if trainer.world_size > 1:  # DDP: how many processes, and how they talked (Lightning or Slurm set the ranks)
        summary.update(world_size=trainer.world_size, distributed_backend=trainer.strategy.process_group_backend)
    summary["history"] = records
    return summary
