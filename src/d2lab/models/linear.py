"""Linear models: the concise nn.Linear version (linear and softmax regression) and the book's from-scratch one."""

import torch
from torch import Tensor, nn

from d2lab.checks.values import check_whole_number


def check_sizes(in_features: int, out_features: int) -> None:
    check_whole_number("model.in_features", in_features)
    check_whole_number("model.out_features", out_features)


class LinearNet(nn.Module):
    """nn.Linear with the book's initialisation: weights from N(0, 0.01²), bias 0.

    One output is linear regression (3.5); `num_classes` outputs under cross-entropy are softmax regression
    (4.5), where images are flattened first. Flatten leaves (N, features) batches as they are.
    """

    def __init__(self, in_features: int, out_features: int = 1) -> None:
        super().__init__()
        check_sizes(in_features, out_features)
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(in_features, out_features)
        nn.init.normal_(self.linear.weight, mean=0.0, std=0.01)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.flatten(x))

    def weight_and_bias(self) -> tuple[Tensor, Tensor]:
        return self.linear.weight.detach().flatten(), self.linear.bias.detach()


class LinearScratch(nn.Module):
    """The book's linear (and softmax) regression from scratch: explicit `w` and `b`, same initialisation; images
    are flattened, as the book's softmax regression from scratch does.

    With `manual_grad=True` the regression task calls `set_gradients` instead of autograd's backward.
    """

    def __init__(self, in_features: int, out_features: int = 1, manual_grad: bool = False) -> None:
        super().__init__()
        check_sizes(in_features, out_features)
        self.w = nn.Parameter(torch.randn(in_features, out_features) * 0.01)
        self.b = nn.Parameter(torch.zeros(out_features))
        self.manual_grad = manual_grad

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim > 2:
            x = x.flatten(1)
        return x @ self.w + self.b

    def set_gradients(self, x: Tensor, grad_output: Tensor) -> None:
        """Analytic gradients of a loss L(y_hat), given dL/dy_hat: dL/dw = xᵀ·g and dL/db = Σ g."""
        self.w.grad = x.T @ grad_output
        self.b.grad = grad_output.sum(dim=0)

    def weight_and_bias(self) -> tuple[Tensor, Tensor]:
        return self.w.detach().flatten(), self.b.detach()
