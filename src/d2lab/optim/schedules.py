"""The book's learning-rate schedules as multiplicative factors of the base lr.

Each schedule is a small picklable object; `build` wraps it in torch's LambdaLR. `t` counts scheduler
steps (epochs or optimizer steps, per `interval`) and `total` is how many there are in the run. Each checks
its own arguments, naming them as the config does (`scheduler.rate`).
"""

import math
from functools import partial

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from d2lab.checks.values import check_choice, check_number, check_whole_number


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
        self.rate = check_number("scheduler.rate", rate, hint=" (0: a constant lr)")

    def factor(self, t: int, total: int) -> float:
        return math.exp(-self.rate * t)


class Polynomial(Schedule):
    """η·(1 + alpha·t)^(−power)."""

    def __init__(self, alpha: float = 0.1, power: float = 0.5, interval: str = "epoch") -> None:
        super().__init__(interval)
        self.alpha = check_number("scheduler.alpha", alpha)
        self.power = check_number("scheduler.power", power)

    def factor(self, t: int, total: int) -> float:
        return (1 + self.alpha * t) ** -self.power


class Step(Schedule):
    """η·gamma^⌊t / step_size⌋."""

    def __init__(self, step_size: int = 1, gamma: float = 0.5, interval: str = "epoch") -> None:
        super().__init__(interval)
        self.step_size = check_whole_number(
            "scheduler.step_size", step_size, 1, " (epochs or steps, per scheduler.interval)"
        )
        self.gamma = check_number("scheduler.gamma", gamma, above=True, hint=" (below 1 decays the lr)")

    def factor(self, t: int, total: int) -> float:
        return self.gamma ** (t // self.step_size)


class Cosine(Schedule):
    """Linear warmup from `warmup_start` over `warmup` steps, then a half cosine down to `final` at `total`."""

    def __init__(self, warmup: int = 0, warmup_start: float = 0.0, final: float = 0.0, interval: str = "epoch") -> None:
        super().__init__(interval)
        self.warmup = check_whole_number(
            "scheduler.warmup", warmup, 0, " (epochs or steps, per scheduler.interval; 0: no warmup)"
        )
        self.warmup_start = check_number(
            "scheduler.warmup_start", warmup_start, hint=", the fraction of optimizer.lr the warmup starts from"
        )
        self.final = check_number("scheduler.final", final, hint=", the fraction of optimizer.lr the schedule ends at")

    def factor(self, t: int, total: int) -> float:
        if t < self.warmup:
            return self.warmup_start + (1 - self.warmup_start) * t / self.warmup
        progress = min((t - self.warmup) / max(total - self.warmup, 1), 1.0)
        return self.final + (1 - self.final) * (1 + math.cos(math.pi * progress)) / 2
