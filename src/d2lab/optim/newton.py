"""The book's Newton's method from scratch (12.3.3): x ← x − lr·H⁻¹∇f, with the exact Hessian from autograd.

Building H takes one backward pass per parameter, so this is for low-dimensional problems such as the
playground's objectives. The closure must leave a gradient that still has its graph, so that it can be
differentiated once more: call `loss.backward(create_graph=True)` (or assign `p.grad` from
`torch.autograd.grad(loss, p, create_graph=True)`). Each param group gets its own Hessian block.
"""

from collections.abc import Callable

import torch


class Newton(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1.0) -> None:
        if not lr > 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:
        if closure is None:
            raise ValueError("Newton needs a closure that recomputes the loss and its gradient graph.")
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grad, hessian = gradient_and_hessian(params)
            # Solve H d = g rather than inverting H: same answer, better conditioned.
            direction = torch.linalg.solve(hessian, grad)
            for p, d in zip(params, direction.split([p.numel() for p in params]), strict=True):
                p.sub_(d.view_as(p), alpha=group["lr"])
        return loss


@torch.enable_grad()
def gradient_and_hessian(params: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The flat gradient in `p.grad` and its Jacobian (the Hessian), one row per gradient entry."""
    grad = torch.cat([p.grad.reshape(-1) for p in params])
    if not grad.requires_grad:
        hint = "in the closure call loss.backward(create_graph=True)"
        raise RuntimeError(f"Newton needs the gradient's graph: {hint}.")
    rows = []
    for g in grad:
        parts = torch.autograd.grad(g, params, retain_graph=True, allow_unused=True)
        # A gradient entry that does not depend on a parameter has a zero there (autograd gives None).
        parts = [torch.zeros_like(p) if d is None else d for p, d in zip(params, parts, strict=True)]
        rows.append(torch.cat([d.reshape(-1) for d in parts]))
    return grad.detach(), torch.stack(rows).detach()
