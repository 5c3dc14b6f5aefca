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

    def update(self, value: Tensor, weight: int | Tensor = 1) -> None:
        """`value` is one mean or a vector of means; `weight` is how many examples each one covers."""
        value = value.detach().double()
        weight = torch.as_tensor(weight, dtype=torch.float64, device=value.device).expand_as(value)
        # In place: assigning a state goes through nn.Module.__setattr__, ~20 µs each on a small CPU.
        self.total.add_((value * weight).sum())
        self.weight.add_(weight.sum())

    def add(self, values: Tensor, weights: Tensor, total_weight: float) -> None:
        """update() for a vector of means, their float64 weights (same device) and the weights' sum, without
        torchmetrics' update wrapper (~40 µs a call on a small CPU): the hot path of a training step that runs
        many minibatches. The caller keeps `weights` and `total_weight` from call to call. The sum is taken in
        float64, which autocast leaves alone, so bf16 or fp16 training still logs an exact, finite mean."""
        self.total.add_(values.detach().double() @ weights)
        self.weight.add_(total_weight)
        # The wrapper's bookkeeping, assigned past nn.Module.__setattr__ (~5 µs each): neither is a tensor or module.
        object.__setattr__(self, "_computed", None)  # a cached compute() is stale now
        object.__setattr__(self, "_update_count", self._update_count + 1)

    def compute(self) -> Tensor:
        return self._mean()

    def _mean(self) -> Tensor:
        return (self.total / self.weight).float()

    def compute_and_reset(self) -> Tensor:
        """compute() then reset(). In one process it skips torchmetrics' sync and caching wrappers, which cost
        ~0.1 ms a call on a small CPU, once per stage per epoch; across processes it syncs as usual."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            value = self.compute()
            self.reset()
            return value
        value = self._mean()
        self.total.zero_()
        self.weight.zero_()
        object.__setattr__(self, "_update_count", 0)  # past nn.Module.__setattr__, as in add()
        return value
