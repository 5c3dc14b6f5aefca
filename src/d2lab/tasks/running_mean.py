"""A weighted running mean that keeps NaN (so divergence shows) and never syncs the device per step.

torchmetrics' MeanMetric either drops NaNs, checks them with a host sync, or (`nan_strategy="disable"`,
torchmetrics 1.9) ignores the weights; this is the few lines we need instead.
"""

import torch
from torch import Tensor
from torchmetrics import Metric


class RunningMean(Metric):
    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("weight", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, value: Tensor, weight: int | float | Tensor = 1) -> None:
        """`value` is one mean or a vector of means; `weight` is how many examples each one covers.

        The sum is taken in float64, which autocast leaves alone, so bf16 or fp16 training still logs an exact,
        finite mean. The states are added to in place rather than reassigned, which nn.Module makes slow."""
        value = value.detach().double()
        weight = torch.as_tensor(weight, dtype=torch.float64, device=value.device)
        if weight.ndim == 0:
            self.total.add_(value.sum() * weight)
            self.weight.add_(weight * value.numel())
        else:
            self.total.add_(value @ weight)
            self.weight.add_(weight.sum())

    def compute(self) -> Tensor:
        return (self.total / self.weight).float()
