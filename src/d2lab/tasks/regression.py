"""Regression with the book's squared loss, ½·(ŷ − y)², averaged over the batch."""

import logging
from collections.abc import Iterable

import torch
from torch import Tensor

from d2lab.models.closed_form import least_squares
from d2lab.tasks.base import Task

log = logging.getLogger("d2lab")


def is_xy(split: object) -> bool:
    """A split held as (features, targets) tensors of rows, as d2lab's in-memory data modules hold it."""
    return isinstance(split, tuple) and len(split) == 2 and all(isinstance(t, Tensor) and t.dim() == 2 for t in split)


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


class RegressionTask(Task):
    """Logs ½·MSE as `loss` and plain `mse`. A net with `manual_grad=True` is trained without autograd.

    Two ways through a training step, chosen before fit by `d2lab.tasks.fast_path`:
    - grouped (`data.steps_per_call` > 1): each batch is a list of consecutive minibatches, and the step runs
      one exact optimizer step per minibatch under manual optimization: Lightning's per-step cost is paid once
      per group, and the parameters equal a plain PyTorch loop's bit for bit;
    - one minibatch per step: automatic optimization, so every Trainer flag (gradient clipping, accumulation,
      ...) works as Lightning documents it. A `manual_grad` net always takes the manual path.
    """

    def __init__(self, net, optimizer, scheduler=None, **kwargs) -> None:
        super().__init__(net, optimizer, scheduler, **kwargs)
        self.manual_grad = getattr(net, "manual_grad", False)
        self.automatic_optimization = not self.manual_grad
        self.plain_backward = False  # may autograd's backward stand in for manual_backward? (d2lab.tasks.fast_path)
        self.fit_report: dict[str, object] = {}
        self.weights_cache: dict[tuple, Tensor] = {}

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        return 0.5 * torch.mean((y_hat - y) ** 2)

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

    def training_step(self, batch: tuple[Tensor, Tensor] | list[tuple[Tensor, Tensor]], batch_idx: int) -> Tensor:
        if self.automatic_optimization:
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
        backward = Tensor.backward if self.plain_backward else self.manual_backward
        stepped_schedule = self.schedule is not None and self.schedule.interval == "step"
        losses = []
        try:
            for x, y in minibatches:
                optimizer.zero_grad()
                if manual_grad:
                    with torch.no_grad():
                        y_hat = net(x)
                        loss = loss_fn(y_hat, y)
                    net.set_gradients(x, (y_hat - y) / y.numel())  # d(½·mean(e²))/dŷ = e / n
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
        self.log_step_losses(losses, first_step)
        return losses  # every step's loss, so callbacks such as the divergence guard see each one

    def batch_weights(self, sizes: tuple[int, ...], device: torch.device) -> Tensor:
        """The minibatch sizes as a float64 tensor on `device`, cached: a group's sizes repeat every epoch."""
        key = (sizes, device)
        if key not in self.weights_cache:
            self.weights_cache[key] = torch.tensor(sizes, dtype=torch.float64, device=device)
        return self.weights_cache[key]

    def optimizer_steps_in_run(self) -> int:
        """Lightning counts training steps; a grouped step holds several optimizer steps, one per minibatch."""
        loader = self.trainer.datamodule.train_dataloader() if self.trainer.datamodule else None
        epochs = self.trainer.max_epochs
        if loader is None or getattr(loader, "steps_per_call", 1) == 1 or epochs is None or epochs < 0:
            return super().optimizer_steps_in_run()  # also Lightning's rule for max_epochs=-1: max_steps
        total = loader.num_batches * max(epochs, 1)
        return min(total, self.trainer.max_steps) if self.trainer.max_steps >= 0 else total

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
        # a user's own data module may hold no tensors (DataLoaders only): then there is nothing to solve
        train = getattr(datamodule, "train_set", None)
        solved = None
        if is_xy(train) and train[1].shape[1] == 1 and w.numel() == train[0].shape[1]:
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
