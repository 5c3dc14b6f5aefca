"""The book's DenseNet (8.7): four dense blocks of four conv blocks, growth rate 32, halving transitions."""

import torch
from torch import Tensor, nn

from d2lab.checks.values import check_whole_number, check_whole_numbers
from d2lab.models.resnet import stem


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """BN, ReLU, 3×3 conv: the book's pre-activation order."""
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(), nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
    )


class DenseBlock(nn.Module):
    """Each conv block sees the concatenation of the block's input and every earlier output."""

    def __init__(self, num_convs: int, in_channels: int, growth_rate: int) -> None:
        super().__init__()
        self.net = nn.ModuleList(conv_block(in_channels + i * growth_rate, growth_rate) for i in range(num_convs))

    def forward(self, x: Tensor) -> Tensor:
        for block in self.net:
            x = torch.cat((x, block(x)), dim=1)
        return x


def transition_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """A 1×1 conv that cuts the channels and a 2×2 average pool that halves the size.

    `ceil_mode=True` is our one change to the book: it equals the book's pool on even sizes
    (96 px: 24→12→6→3), and keeps odd ones from vanishing (28 px: 7→4→2→1 instead of 7→3→1→0).
    """
    return nn.Sequential(
        nn.BatchNorm2d(in_channels),
        nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2, ceil_mode=True),
    )


def densenet(
    in_channels: int = 1, num_classes: int = 10, growth_rate: int = 32, num_convs: tuple[int, ...] = (4, 4, 4, 4)
) -> nn.Sequential:
    """The stem, dense blocks with a transition between each two, then BN, ReLU and global pooling."""
    for key, size in (("in_channels", in_channels), ("num_classes", num_classes), ("growth_rate", growth_rate)):
        check_whole_number(f"model.{key}", size)
    num_convs = check_whole_numbers("model.num_convs", num_convs)
    layers: list[nn.Module] = [stem(in_channels)]
    channels = 64
    for i, n in enumerate(num_convs):
        layers.append(DenseBlock(n, channels, growth_rate))
        channels += n * growth_rate
        if i != len(num_convs) - 1:
            layers.append(transition_block(channels, channels // 2))
            channels //= 2
    layers += [nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()]
    return nn.Sequential(*layers, nn.Linear(channels, num_classes))
