"""The book's batch normalization from scratch (8.5), for fully connected (2-D) and conv (4-D) inputs."""

import torch
from torch import Tensor, nn


def batch_norm(
    x: Tensor,
    gamma: Tensor,
    beta: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    eps: float,
    momentum: float,
    training: bool,
) -> Tensor:
    """Normalize `x` per channel; in training, also update the running statistics in place."""
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()  # as autocast runs nn.BatchNorm: statistics in float32
    dims = (0,) if x.dim() == 2 else (0, 2, 3)  # every axis but the channel axis
    shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
    if training:
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, correction=0)  # normalize with the biased variance ...
        with torch.no_grad():
            n = x.numel() // x.shape[1]
            # ... but track the unbiased one, as nn.BatchNorm does (the book tracks the biased one).
            running_mean.lerp_(mean, momentum)
            running_var.lerp_(var * n / max(n - 1, 1), momentum)
    else:
        mean, var = running_mean, running_var
    x_hat = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)


class BatchNormScratch(nn.Module):
    """A drop-in for nn.BatchNorm1d (`num_dims=2`) and nn.BatchNorm2d (`num_dims=4`).

    `momentum` is PyTorch's: running = (1 - momentum) · running + momentum · batch statistic.
    """

    def __init__(self, num_features: int, num_dims: int = 4, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        if num_dims not in (2, 4):
            raise ValueError(f"num_dims={num_dims!r}: BatchNormScratch handles 2-D or 4-D inputs")
        self.num_dims, self.eps, self.momentum = num_dims, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))  # γ, the scale
        self.bias = nn.Parameter(torch.zeros(num_features))  # β, the shift
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != self.num_dims:
            raise ValueError(f"expected a {self.num_dims}-D input, got shape {tuple(x.shape)}")
        return batch_norm(
            x,
            self.weight,
            self.bias,
            self.running_mean,
            self.running_var,
            self.eps,
            self.momentum,
            self.training,
        )

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, num_dims={self.num_dims}, eps={self.eps}, momentum={self.momentum}"
