"""The book's ResNet-18 (8.6): a 7×7 stem, four stages of two residual blocks, global average pooling."""

from torch import Tensor, nn
from torch.nn import functional as F

from d2lab.checks.values import check_whole_number


class Residual(nn.Module):
    """Two 3×3 convs with BN; a 1×1 conv on the shortcut when the channels or the stride change."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        reshape = stride != 1 or in_channels != out_channels
        self.conv3 = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride) if reshape else None

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            x = self.conv3(x)
        return F.relu(y + x)


def stage(in_channels: int, out_channels: int, num_residuals: int, first: bool = False) -> nn.Sequential:
    """The first stage keeps the stem's size; each later one halves it and changes the channels."""
    blocks = []
    for i in range(num_residuals):
        if i == 0 and not first:
            blocks.append(Residual(in_channels, out_channels, stride=2))
        else:
            blocks.append(Residual(out_channels, out_channels))
    return nn.Sequential(*blocks)


def stem(in_channels: int) -> nn.Sequential:
    """The 7×7/2 conv and 3×3/2 max-pool shared by ResNet and DenseNet: 96 px becomes 24, 28 px becomes 7."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )


def resnet18(in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    """Takes any input from 28 px up: the stages end at 1×1 or more, then pool globally."""
    check_whole_number("model.in_channels", in_channels)
    check_whole_number("model.num_classes", num_classes)
    return nn.Sequential(
        stem(in_channels),
        stage(64, 64, 2, first=True),
        stage(64, 128, 2),
        stage(128, 256, 2),
        stage(256, 512, 2),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(512, num_classes),
    )
