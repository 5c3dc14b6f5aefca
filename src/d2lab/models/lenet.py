"""LeNet-5 as the book writes it (7.6), with sigmoid activations and optional batch normalization (8.5)."""

import torch
from torch import nn

from d2lab.checks.values import check_choice, check_whole_number
from d2lab.models.batchnorm import BatchNormScratch

NORMS = ("none", "batchnorm", "batchnorm_scratch")


def _norm(kind: str, channels: int, num_dims: int) -> list[nn.Module]:
    if kind == "batchnorm":
        return [nn.BatchNorm2d(channels) if num_dims == 4 else nn.BatchNorm1d(channels)]
    if kind == "batchnorm_scratch":
        return [BatchNormScratch(channels, num_dims=num_dims)]
    return []


def lenet(norm: str = "none", in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> nn.Sequential:
    """`norm=none` is the book's LeNet (padding 2 on the first conv); with BN it is the book's BN-LeNet,
    which has no padding and a norm layer after every conv and hidden linear layer."""
    check_choice("model.norm", norm, NORMS)
    for key, size in (("in_channels", in_channels), ("num_classes", num_classes), ("image_size", image_size)):
        check_whole_number(f"model.{key}", size)
    pad = 2 if norm == "none" else 0
    features = [
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=pad), *_norm(norm, 6, 4), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), *_norm(norm, 16, 4), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
    ]  # fmt: skip
    probe = nn.Sequential(*features).eval()  # eval: the probe must not move the BN statistics
    with torch.no_grad():  # 16·5·5 at 28 px with padding, 16·4·4 without; any other size by trying
        flat = probe(torch.zeros(1, in_channels, image_size, image_size)).shape[1]
    probe.train()
    return nn.Sequential(
        *features,
        nn.Linear(flat, 120), *_norm(norm, 120, 2), nn.Sigmoid(),
        nn.Linear(120, 84), *_norm(norm, 84, 2), nn.Sigmoid(),
        nn.Linear(84, num_classes),
    )  # fmt: skip
