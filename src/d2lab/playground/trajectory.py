"""The points a playground run visits, as plain lists: written by the descent, read back by the pictures.

Kept apart from the descent (which needs torch) so the comparison figure, and with it the report, reads a
sweep's trajectories without importing torch.
"""

import math
from dataclasses import dataclass, field


@dataclass
class Trajectory:
    points: list[list[float]] = field(default_factory=list)  # x_0 … x_T
    values: list[float] = field(default_factory=list)  # f(x_0) … f(x_T)
    lrs: list[float] = field(default_factory=list)  # the lr of each step: T entries

    def rows(self) -> list[dict[str, float]]:
        """One dict per point, the shape of a training run's `history`."""
        names = coordinate_names(len(self.points[0]))
        lrs = [*self.lrs, math.nan]  # the last point takes no step
        return [
            {"step": t, **dict(zip(names, p, strict=True)), "f": f, "lr": lr}
            for t, (p, f, lr) in enumerate(zip(self.points, self.values, lrs, strict=True))
        ]


def coordinate_names(dim: int) -> list[str]:
    """The book's names: x in 1-D, x1, x2, … above."""
    return ["x"] if dim == 1 else [f"x{i + 1}" for i in range(dim)]
