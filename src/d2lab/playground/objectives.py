"""The book's toy objectives (12.2-12.4), each a function of a small tensor x plus where and how long to run.

`start`, `steps` and `noise` belong to the demo rather than to the function, but the book pairs them (x = 10
for 10 steps in 1-D, (-5, -2) for 20 steps in 2-D), so each objective's config carries its own.

An objective takes a torch tensor (the descent, which needs autograd) or a numpy array (the pictures, which the
report draws without importing torch).
"""

from typing import TYPE_CHECKING, Union

import numpy as np

from d2lab.errors import ConfigError

if TYPE_CHECKING:
    import torch

Array = Union["torch.Tensor", np.ndarray]


def cos(x: Array) -> Array:
    # a tensor's own method keeps autograd's graph; numpy's function would turn the tensor into an array
    return x.cos() if hasattr(x, "cos") else np.cos(x)


def cosh(x: Array) -> Array:
    return x.cosh() if hasattr(x, "cosh") else np.cosh(x)


class Objective:
    name = "objective"
    formula = "f(x)"

    def __init__(self, start: list[float], steps: int, noise: float = 0.0) -> None:
        if steps < 1:
            raise ConfigError(f"objective.steps={steps!r} is invalid: it must be at least 1.")
        if noise < 0:
            raise ConfigError(f"objective.noise={noise!r} is invalid: σ of the gradient noise must be >= 0.")
        self.start, self.steps, self.noise = [float(v) for v in start], int(steps), float(noise)

    @property
    def dim(self) -> int:
        return len(self.start)

    def __call__(self, x: Array) -> Array:
        raise NotImplementedError


class XSquared(Objective):
    name, formula = "x_squared", "x²"

    def __call__(self, x: Array) -> Array:
        return (x**2).sum(-1)


class XCos(Objective):
    """x·cos(cx): non-convex, with local minima."""

    name, formula = "x_cos", "x·cos(cx)"

    def __init__(self, c: float, start: list[float], steps: int, noise: float = 0.0) -> None:
        super().__init__(start, steps, noise)
        self.c = c

    def __call__(self, x: Array) -> Array:
        return (x * cos(self.c * x)).sum(-1)


class Cosh(Objective):
    """cosh(cx): convex, with a Hessian that grows fast, where Newton's method shines."""

    name, formula = "cosh", "cosh(cx)"

    def __init__(self, c: float, start: list[float], steps: int, noise: float = 0.0) -> None:
        super().__init__(start, steps, noise)
        self.c = c

    def __call__(self, x: Array) -> Array:
        return cosh(self.c * x).sum(-1)


class Quadratic2d(Objective):
    """x1² + 2·x2²: an elongated bowl, so one learning rate is too slow in x1 and brisk in x2."""

    name, formula = "quadratic_2d", "x1² + 2·x2²"

    def __init__(self, start: list[float], steps: int, noise: float = 0.0) -> None:
        super().__init__(start, steps, noise)
        if self.dim != 2:
            raise ConfigError(f"objective.start={start!r} is invalid: quadratic_2d needs two coordinates.")

    def __call__(self, x: Array) -> Array:
        return x[..., 0] ** 2 + 2 * x[..., 1] ** 2
