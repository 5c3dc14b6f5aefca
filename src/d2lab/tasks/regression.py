"""Regression with the book's squared loss, ½·(ŷ − y)², averaged over the batch."""

import logging
from collections.abc import Iterable

import torch
from torch import Tensor

from d2lab.models.closed_form import least_squares
from d2lab.tasks.base import Task
from d2lab.tasks.grouped import GroupedTraining

log = logging.getLogger("d2lab")


def is_xy(split: object) -> bool:
    """A split held as (features, targets) tensors of rows, as d2lab's in-memory data modules hold it."""
    return isinstance(split, tuple) and len(split) == 2 and all(isinstance(t, Tensor) and t.dim() == 2 for t in split)


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


class RegressionTask(GroupedTraining, Task):
    """Logs ½·MSE as `loss` and plain `mse`. A net with `manual_grad=True` is trained without autograd.

    Its training step runs on the grouped fast path where the run allows it (`d2lab.tasks.grouped`): several
    exact optimizer steps per Lightning step, the parameters equal to a plain PyTorch loop's bit for bit.
    Elsewhere it takes one minibatch per step under automatic optimization, so every Trainer flag works as
    Lightning documents it. A `manual_grad` net always runs its steps itself.
    """

    def __init__(self, net, optimizer, scheduler=None, **kwargs) -> None:
        super().__init__(net, optimizer, scheduler, **kwargs)
        self.manual_grad = getattr(net, "manual_grad", False)
        self.fit_report: dict[str, object] = {}

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        return 0.5 * torch.mean((y_hat - y) ** 2)

    @torch.no_grad()
    def step_by_hand(self, x: Tensor, y: Tensor) -> Tensor:
        y_hat = self.net(x)
        self.net.set_gradients(x, (y_hat - y) / y.numel())  # d(½·mean(e²))/dŷ = e / n
        return self.loss(y_hat, y)

    def compute_stage(self, stage: str, reset: bool = True) -> dict[str, Tensor]:
        values = super().compute_stage(stage, reset)
        # The loss is ½·MSE averaged with batch-size weights, so MSE needs no second pass over the outputs.
        values[f"{stage}/mse"] = 2 * values[f"{stage}/loss"]
        return values

    def evaluate(self, batches: Iterable[tuple[Tensor, Tensor]], stage: str = "val") -> dict[str, float]:
        values = super().evaluate(batches, stage)
        values[f"{stage}/mse"] = 2 * values[f"{stage}/loss"]
        return values

    def metric_names(self) -> list[str]:
        return [f"{stage}/{name}" for stage in ("val", "train") for name in ("loss", "mse")]

    def on_fit_end(self) -> None:
        if not hasattr(self.net, "weight_and_bias"):
            return
        w, b = (t.cpu() for t in self.net.weight_and_bias())
        report: dict[str, object] = {"w": w.tolist(), "b": b.item()}
        lines = [f"learned      w={_fmt(w.tolist())}  b={b.item():.4f}"]
        datamodule = self.trainer.datamodule
        true_w = getattr(datamodule, "true_w", None)
        if true_w is not None and true_w.numel() == w.numel():
            report["w_error"] = (w - true_w).abs().max().item()
            report["b_error"] = abs(b.item() - datamodule.true_b)
            lines.append(
                f"true         w={_fmt(true_w.tolist())}  b={datamodule.true_b:.4f}"
                f"  (max |error| w: {report['w_error']:.2e}, b: {report['b_error']:.2e})"
            )
        train = getattr(datamodule, "train_set", None)
        solved = None
        if not is_xy(train):  # a user's own data (DataLoaders): no tensors to solve on
            report["closed_form_skipped"] = f"{type(datamodule).__name__} holds no in-memory training tensors"
            lines.append(f"closed form  skipped: {report['closed_form_skipped']}")
        elif train[1].shape[1] == 1 and w.numel() == train[0].shape[1]:
            train_x, train_y = train
            solved = least_squares(train_x, train_y)
            if solved is None:
                report["closed_form_skipped"] = (
                    f"{len(train_x)} training rows do not determine {w.numel()} weights and a bias uniquely"
                )
                lines.append(f"closed form  skipped: {report['closed_form_skipped']}")
        if solved is not None:
            cw, cb = solved
            val_x, val_y = datamodule.val_set
            report["closed_form"] = {
                "w": cw.tolist(),
                "b": cb.item(),
                "val/loss": self.loss(val_x @ cw.unsqueeze(1) + cb, val_y).item(),
            }
            report["closed_form_gap"] = max((w - cw).abs().max().item(), abs(b.item() - cb.item()))
            lines.append(
                f"closed form  w={_fmt(cw.tolist())}  b={cb.item():.4f}"
                f"  (max |gap| to learned: {report['closed_form_gap']:.2e},"
                f" val/loss {report['closed_form']['val/loss']:.6f})"
            )
        for line in lines:
            log.info(line)
        self.fit_report = report
