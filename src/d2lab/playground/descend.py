"""Run any torch optimizer on a playground objective and keep every point it visits."""

import math
from collections.abc import Callable

import torch

from d2lab.optim.schedules import Schedule
from d2lab.playground.objectives import Objective
from d2lab.playground.trajectory import Trajectory


def descend(
    objective: Objective,
    make_optimizer: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    schedule: Schedule | None = None,
    seed: int = 0,
) -> Trajectory:
    # float64, as the book's Python floats, so the printed digits match its own.
    x = torch.tensor(objective.start, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([x])
    scheduler = schedule.build(optimizer, total=objective.steps) if schedule is not None else None
    noise = torch.Generator().manual_seed(seed)

    def closure() -> torch.Tensor:
        loss = objective(x)
        # The gradient keeps its graph (cheap at this size) so a second-order optimizer such as Newton
        # can differentiate it again; the noise is a constant, so it leaves the Hessian exact.
        (grad,) = torch.autograd.grad(loss, x, create_graph=True)
        if objective.noise:
            grad = grad + objective.noise * torch.randn(x.shape, generator=noise, dtype=x.dtype)
        x.grad = grad
        return loss

    path = Trajectory()
    path.points.append(x.tolist())
    path.values.append(objective(x).item())
    for _ in range(objective.steps):
        path.lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step(closure)
        x.grad = None  # drops the graph the closure kept
        if scheduler is not None:
            scheduler.step()
        path.points.append(x.tolist())
        path.values.append(objective(x).item())
        if not math.isfinite(path.values[-1]):
            break  # nothing to learn from stepping infinity
    return path


def divergence(path: Trajectory) -> str | None:
    """Why the run counts as diverged, or None: f became non-finite, or ended above where it started."""
    first, last = path.values[0], path.values[-1]
    steps = len(path.values) - 1
    if not math.isfinite(last):
        return f"f(x) became {last} at step {steps}: the steps overshoot more each time."
    if last > first:
        return (
            f"f(x) rose from {first:.6g} to {last:.6g} in {steps} steps: the optimizer went uphill "
            "(too large a learning rate, or for Newton's method a negative curvature)."
        )
    return None
