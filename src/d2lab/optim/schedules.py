"""The book's learning-rate schedules as multiplicative factors of the base lr.

Each schedule is a small picklable object; `build` wraps it in torch's LambdaLR. `t` counts scheduler
steps (epochs or optimizer steps, per `interval`) and `total` is how many there are in the run.
"""

import math
from functools import partial

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from d2lab.errors import check_choice


class Schedule:
    def __init__(self, interval: str = "epoch") -> None:
        check_choice("scheduler.interval", interval, ("epoch", "step"))
        self.interval = interval

    def factor(self, t: int, total: int) -> float:
        raise NotImplementedError

    def build(self, optimizer: Optimizer, total: int) -> LambdaLR:
        return LambdaLR(optimizer, partial(self.factor, total=total))


class Constant(Schedule):
    def factor(self, t: int, total: int) -> float:
        return 1.0


class Exponential(Schedule):
    """η·e^(−rate·t)."""

    def __init__(self, rate: float = 0.1, interval: str = "epoch") -> None:
        super().__init__(interval)
        self.rate = rate

    def factor(self, t: int, total: int) -> float:
        return math.exp(-self.rate * t)


class Polynomial(Schedule):
    """η·(1 + alpha·t)^(−power)."""

    def __init__(self, alpha: float = 0.1, power: float = 0.5, interval: str = "epoch") -> None:
        super().__init__(interval)
        self.alpha, self.power = alpha, power

    def factor(self, t: int, total: int) -> float:
        return (1 + self.alpha * t) ** -self.power


class Step(Schedule):
    """η·gamma^⌊t / step_size⌋."""

    def __init__(self, step_size: int = 1, gamma: float = 0.5, interval: str = "epoch") -> None:
        super().__init__(interval)
        self.step_size, self.gamma = step_size, gamma

    def factor(self, t: int, total: int) -> float:
        return self.gamma ** (t // self.step_size)


class Cosine(Schedule):
    """Linear warmup from `warmup_start` over `warmup` steps, then a half cosine down to `final` at `total`."""

    def __init__(self, warmup: int = 0, warmup_start: float = 0.0, final: float = 0.0, interval: str = "epoch") -> None:
        super().__init__(interval)
        self.warmup, self.warmup_start, self.final = warmup, warmup_start, final

    def factor(self, t: int, total: int) -> float:
        if t < self.warmup:
            return self.warmup_start + (1 - self.warmup_start) * t / self.warmup
        progress = min((t - self.warmup) / max(total - self.warmup, 1), 1.0)
        return self.final + (1 - self.final) * (1 + math.cos(math.pi * progress)) / 2
