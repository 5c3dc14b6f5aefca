"""Trajectory pictures as in the book: the path over the curve in 1-D, over contour lines in 2-D.

Figures are built with matplotlib's object API (no pyplot), so nothing needs a display or global state. The
objective is drawn from numpy arrays, so the report draws a sweep's comparison without importing torch.
"""

import math
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from d2lab.playground.objectives import Objective
from d2lab.playground.trajectory import Trajectory


def finite_points(path: Trajectory) -> list[list[float]]:
    return [p for p, f in zip(path.points, path.values, strict=True) if math.isfinite(f)]


def draw_objective(ax: Axes, objective: Objective, paths: list[Trajectory]) -> None:
    """The curve (1-D) or contour lines (2-D) over a window that holds every path and the origin."""
    points = [p for path in paths for p in finite_points(path)]
    if objective.dim == 1:
        n = max(abs(p[0]) for p in points) or 1.0  # the book's window: [-n, n]
        grid = np.linspace(-n, n, 400)
        ax.plot(grid, objective(grid[:, None]), color="0.3", lw=1)
        ax.set(xlabel="x", ylabel="f(x)")
        return
    axes = []
    for i in range(2):
        lo, hi = min(min(p[i] for p in points), 0.0), max(max(p[i] for p in points), 0.0)
        pad = 0.1 * (hi - lo) + 0.5
        axes.append(np.linspace(lo - pad, hi + pad, 200))
    x1, x2 = np.meshgrid(*axes, indexing="ij")
    ax.contour(x1, x2, objective(np.stack([x1, x2], axis=-1)), levels=15, colors="#1f77b4", linewidths=0.8)
    ax.set(xlabel="x1", ylabel="x2")


def draw_path(ax: Axes, objective: Objective, path: Trajectory, color: str, label: str | None = None) -> None:
    points = finite_points(path)
    if objective.dim == 1:
        xs = [p[0] for p in points]
        ax.plot(xs, [f for f in path.values if math.isfinite(f)], "-o", color=color, ms=4, label=label)
    else:
        ax.plot([p[0] for p in points], [p[1] for p in points], "-o", color=color, ms=3, label=label)


def plot_trajectory(objective: Objective, path: Trajectory, title: str, out: Path) -> Path:
    fig = Figure(figsize=(4.5, 3.5), layout="constrained")
    ax = fig.subplots()
    draw_objective(ax, objective, [path])
    draw_path(ax, objective, path, color="#ff7f0e")
    ax.set_title(title, fontsize=9)
    fig.savefig(out, dpi=100)
    return out


Runs = list[tuple[str, Trajectory]]  # (label, path) per job


def plot_comparison(objective: Objective | None, runs: Runs, title: str, out: Path) -> Path:
    """Every run's path over one background (when they share an objective) and f(x) against the step."""
    fig = Figure(figsize=(9, 3.6) if objective else (4.5, 3.6), layout="constrained")
    axes = fig.subplots(1, 2 if objective else 1, squeeze=False)[0]
    colors = [f"C{i % 10}" for i in range(len(runs))]
    if objective is not None:
        draw_objective(axes[0], objective, [path for _, path in runs])
        for (label, path), color in zip(runs, colors, strict=True):
            draw_path(axes[0], objective, path, color, label)
        axes[0].legend(fontsize=7)
    ax = axes[-1]
    for (label, path), color in zip(runs, colors, strict=True):
        ax.plot(range(len(path.values)), path.values, "-", color=color, label=label)
    values = [f for _, path in runs for f in path.values if math.isfinite(f)]
    if values and min(values) > 0:
        ax.set_yscale("log")  # convergence is geometric; on a log scale it reads as a line
    ax.set(xlabel="step", ylabel="f(x)")
    ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.savefig(out, dpi=100)
    return out
