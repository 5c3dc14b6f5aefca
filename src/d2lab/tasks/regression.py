"""Regression with the book's squared loss, ½·(ŷ − y)², averaged over the batch."""

import logging
from collections.abc import Iterator

import torch
from torch import Tensor

from d2lab.models.closed_form import least_squares
from d2lab.tasks.base import Task

log = logging.getLogger("d2lab")


def count_optimizer_steps(trainer, n: int) -> None:
    """Advance `trainer.global_step` for steps taken on the bare torch optimizer (manual optimization counts
    only the steps of Lightning's wrapper), so max_steps, checkpoints and logs see every optimizer step."""
    trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress.increment_by(n)  # ready and completed


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


class RegressionTask(Task):
    """Logs ½·MSE as `loss` and plain `mse`. A net with `manual_grad=True` is trained without autograd."""

    def __init__(self, net, optimizer, scheduler=None, **kwargs) -> None:
        super().__init__(net, optimizer, scheduler, **kwargs)
        # Manual optimization lets one Lightning step run many exact SGD steps (see TensorBatches).
        self.automatic_optimization = False
        self.manual_grad = getattr(net, "manual_grad", False)
        self.fit_report: dict[str, object] = {}
        self._weights_cache: dict[tuple, tuple[Tensor, float]] = {}

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        return 0.5 * torch.mean((y_hat - y) ** 2)

    def compute_stage(self, stage: str) -> dict[str, Tensor]:
        values = super().compute_stage(stage)
        # The loss is ½·MSE averaged with batch-size weights, so MSE needs no second pass over the outputs.
        values[f"{stage}/mse"] = 2 * values[f"{stage}/loss"]
        return values

    def training_step(self, dataloader_iter: Iterator) -> Tensor:
        # Lightning hands over its loader iterator when the step asks for `dataloader_iter`: that skips its
        # prefetching and its per-step signature inspection, ~0.3 ms a step on a small CPU, 3% of an airfoil epoch
        # at batch 100. The form is marked experimental but unchanged since Lightning 2.0; tests pin its behaviour.
        # What callbacks see changes with it: on_train_batch_start gets the previous batch (None first), and
        # on_train_batch_end the batch as the loader yielded it, before it moved to the device.
        return self.fit_minibatches(self.next_batch(dataloader_iter))

    def next_batch(self, dataloader_iter: Iterator) -> tuple[Tensor, Tensor] | list[tuple[Tensor, Tensor]]:
        """The next training item, prepared as Lightning prepares a batch it passes: precision, then the batch
        hooks (the data module counts what training consumed, for exact resume), then the device."""
        batch, _, _ = next(dataloader_iter)
        trainer = self.trainer
        batch = trainer.precision_plugin.convert_input(batch)
        batch = self._on_before_batch_transfer(batch, dataloader_idx=0)
        return trainer.strategy.batch_to_device(batch, dataloader_idx=0)

    def fit_minibatches(self, batch: tuple[Tensor, Tensor] | list[tuple[Tensor, Tensor]]) -> Tensor:
        """One exact optimizer step per minibatch; a list is TensorBatches' steps_per_call minibatches.

        On one process the steps skip Lightning's per-step hooks, which cost more than the step itself for a
        linear model; under DDP they go through manual_backward so gradients are synced."""
        minibatches = batch if isinstance(batch, list) else [batch]
        lean = self.trainer.world_size == 1
        optimizer = self.optimizers()
        # The bare torch optimizer's own methods: LightningOptimizer's wrappers cost ~25 µs a call here.
        step = optimizer.optimizer.step if lean else optimizer.step
        zero_grad = optimizer.optimizer.zero_grad if lean else optimizer.zero_grad
        backward = Tensor.backward if lean else self.manual_backward
        # Looked up once per call, not per minibatch: an nn.Module attribute costs ~2.5 µs to find here.
        net, loss_fn, manual_grad = self.net, self.loss, self.manual_grad
        losses = []
        for x, y in minibatches:
            zero_grad()
            if manual_grad:
                with torch.no_grad():
                    y_hat = net(x)
                    loss = loss_fn(y_hat, y)
                net.set_gradients(x, (y_hat - y) / y.numel())  # d(½·mean(e²))/dŷ = e / n
            else:
                loss = loss_fn(net(x), y)
                backward(loss)
            step()
            self.step_schedulers("step")
            # Detached once, below (a detach per step is one more op to dispatch); backward already freed the
            # tensors each loss's graph saved, so keeping the losses costs little.
            losses.append(loss)
        if lean:
            count_optimizer_steps(self.trainer, len(losses))
        with torch.no_grad():
            losses = torch.stack(losses)
        weights, total = self._batch_weights(tuple(len(y) for _, y in minibatches), losses.device)
        self.loss_meters["train_"].add(losses, weights, total)
        return losses.mean()

    def _batch_weights(self, sizes: tuple[int, ...], device: torch.device) -> tuple[Tensor, float]:
        """The minibatch sizes as a float64 tensor on `device`, and their sum, cached: a call's sizes repeat every
        epoch, and building the tensor from a list costs ~30 µs."""
        key = (sizes, device)
        if key not in self._weights_cache:
            self._weights_cache[key] = torch.tensor(sizes, dtype=torch.float64, device=device), float(sum(sizes))
        return self._weights_cache[key]

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
        train_x, train_y = datamodule.train_set
        if train_y.shape[1] == 1 and w.numel() == train_x.shape[1]:
            cw, cb = least_squares(train_x, train_y)
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
