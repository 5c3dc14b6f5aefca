"""The book's minibatch SGD from scratch, as a torch.optim.Optimizer: p ← p − lr·grad."""

from collections.abc import Callable

import torch


class ScratchSGD(torch.optim.Optimizer):
    def __init__(self, params, lr: float) -> None:
        if not lr > 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(p.grad, alpha=group["lr"])
        return loss
