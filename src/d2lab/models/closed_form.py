"""Least squares in closed form, from the normal equations: (AᵀA)θ = Aᵀy with A = [X, 1]."""

import torch
from torch import Tensor


def least_squares(features: Tensor, targets: Tensor) -> tuple[Tensor, Tensor] | None:
    """The (w, b) that minimise the squared error of Xw + b against y, computed in float64; None where they are
    not unique (fewer rows than unknowns, or a column that repeats another)."""
    a = torch.cat([features.double(), torch.ones(len(features), 1, dtype=torch.float64)], dim=1)
    if len(a) < a.shape[1]:
        return None
    gram = a.T @ a
    # Unique where AᵀA is well conditioned: its eigenvalues are A's singular values squared, so the small AᵀA
    # decides without an SVD of the tall A.
    eigenvalues = torch.linalg.eigvalsh(gram)
    if eigenvalues[0] <= eigenvalues[-1] * len(a) * torch.finfo(torch.float64).eps:
        return None
    theta = torch.linalg.solve(gram, a.T @ targets.double().reshape(len(features), -1))
    return theta[:-1, 0].float(), theta[-1:, 0].float()
