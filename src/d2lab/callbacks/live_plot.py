"""The book's `Animator`: a run's train and val curves, redrawn at each validation and each curve point
(callbacks.curve) while it trains.

Inside Jupyter the figure is one output of the cell, updated in place. Elsewhere (`live_plot=true` in a shell)
it is redrawn into `live_plot.png` in the run's folder, for an image viewer that reloads. Drawing is kept to a
small share of the fit's time: a redraw that would take the drawing past `budget` of the fit so far waits (so a
run of a second or two draws once, at its end), and fit ends with the picture of every record.
"""

import io
import time
from pathlib import Path
from typing import Any

import lightning as L

from d2lab.callbacks.history import RunHistory
from d2lab.jupyter import in_notebook
from d2lab.report.plots import run_figure, update_run_figure


class LivePlot(L.Callback):
    def __init__(self, history: RunHistory, path: Path, budget: float = 0.02) -> None:
        self.history = history  # whose records it draws; it records each validation before this callback runs
        self.path = path
        self.budget = budget
        self.notebook = in_notebook()
        self.handle = None  # the notebook output the figure is shown in
        self.fig = None  # built at the first draw, then updated in place
        self.drawing_s = 0.0
        self.last_draw_s = 0.05  # what the first draw is expected to cost, before one has been timed
        self.fit_start = time.perf_counter()
        self.drawn_records = -1  # how many records the picture shows
        self.validate_on = "heldout"  # the data's: under `test`, the val curves are the test images'

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.fit_start = time.perf_counter()
        self.validate_on = getattr(trainer.datamodule, "validate_on", "heldout")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit" or not trainer.is_global_zero:
            return
        self.draw_within_budget()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if len(self.history.records) > self.drawn_records and trainer.is_global_zero:  # a curve point came in
            self.draw_within_budget()

    def draw_within_budget(self) -> None:
        elapsed = time.perf_counter() - self.fit_start
        if self.drawing_s + self.last_draw_s <= self.budget * elapsed:
            self.draw()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and self.drawn_records != len(self.history.records):
            self.draw()

    def draw(self) -> None:
        started = time.perf_counter()
        records = self.history.records
        if self.fig is None:
            self.fig = run_figure(records, validate_on=self.validate_on)
        else:
            update_run_figure(self.fig, records, self.validate_on)
        png = {"format": "png", "dpi": 90, "pil_kwargs": {"compress_level": 1}}  # a quick picture, not a small file
        if self.notebook:  # PNG bytes, not the Figure: they show whatever matplotlib backend the kernel has
            from IPython.display import Image, display

            buffer = io.BytesIO()
            self.fig.savefig(buffer, **png)
            image = Image(data=buffer.getvalue(), format="png")
            if self.handle is None:
                self.handle = display(image, display_id=True)
            else:
                self.handle.update(image)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fig.savefig(self.path, **png)
        self.drawn_records = len(records)
        self.last_draw_s = time.perf_counter() - started
        self.drawing_s += self.last_draw_s
