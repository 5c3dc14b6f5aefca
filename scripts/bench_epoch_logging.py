"""What d2lab's epoch metrics cost per epoch through Lightning's `self.log_dict` against the grouped path's hand path
(`callback_metrics` and the loggers directly), on airfoil at batch 100 with a training step that does nothing, so
the difference is the logging. The two run interleaved in one process; milliseconds per epoch, median.

    python scripts/bench_epoch_logging.py
"""

import logging
import statistics
import tempfile
import warnings

import lightning as L
import torch
from bench_overhead import EpochClock
from lightning.pytorch.loggers import CSVLogger

from d2lab.data.airfoil import Airfoil
from d2lab.models.linear import LinearNet
from d2lab.tasks.base import Task
from d2lab.tasks.grouped import GroupedSteps
from d2lab.tasks.regression import RegressionTask


class HandPath(RegressionTask):
    """The grouped path as d2lab runs it (one grouped step per epoch), with no training work."""

    def fit_minibatches(self, batch) -> None:
        return None


class SelfLog(HandPath):
    """The same, with its epoch metrics through the Task's `self.log_dict`."""

    def log_epoch(self, values) -> None:
        Task.log_epoch(self, values)


def epoch_ms(task_class: type, validate: bool, folder: str | None, epochs: int = 60) -> float:
    clock = EpochClock()
    trainer = L.Trainer(
        max_epochs=epochs,
        logger=CSVLogger(folder) if folder else False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if validate else 0,
        callbacks=[clock, GroupedSteps()],
    )
    task = task_class(LinearNet(5), lambda params: torch.optim.SGD(params, lr=0.01))
    trainer.fit(task, datamodule=Airfoil(batch_size=100, steps_per_call="auto"))
    return statistics.median(clock.periods[2:]) * 1e3


def table(repeats: int = 3) -> str:
    """The Markdown table: per validation and logger setting, the median of `repeats` interleaved pairs."""
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    lines = [
        "| validation | logger | self.log_dict ms/epoch | hand path ms/epoch | self.log_dict costs |",
        "| --- | --- | --- | --- | --- |",
    ]
    for validate in (False, True):
        for logger in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                folder = tmp if logger else None
                pairs = [
                    (epoch_ms(SelfLog, validate, folder), epoch_ms(HandPath, validate, folder)) for _ in range(repeats)
                ]
            lightning, hand = (statistics.median(p[i] for p in pairs) for i in (0, 1))
            lines.append(
                f"| {'each epoch' if validate else 'off'} | {'csv' if logger else 'none'} | {lightning:.2f} "
                f"| {hand:.2f} | +{lightning - hand:.2f} ms ({lightning / hand:.2f}×) |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
