"""The image models: the from-scratch BatchNorm against nn.BatchNorm, and the nets' shapes at any size."""

import pytest
import torch
from torch import nn

from d2lab.errors import ConfigError
from d2lab.models.batchnorm import BatchNormScratch
from d2lab.models.densenet import densenet
from d2lab.models.lenet import lenet
from d2lab.models.resnet import resnet18

SHAPES = {2: (16, 7), 4: (8, 5, 6, 7)}  # (batch, channels) and (batch, channels, height, width)


def twin_pair(num_dims: int, momentum: float = 0.1) -> tuple[BatchNormScratch, nn.Module]:
    channels = SHAPES[num_dims][1]
    ours = BatchNormScratch(channels, num_dims=num_dims, momentum=momentum).double()
    theirs = (nn.BatchNorm1d if num_dims == 2 else nn.BatchNorm2d)(channels, momentum=momentum).double()
    with torch.no_grad():  # non-trivial γ and β, so their gradients and effect are tested too
        for module in (ours, theirs):
            module.weight.copy_(torch.linspace(0.5, 2.0, channels))
            module.bias.copy_(torch.linspace(-1.0, 1.0, channels))
    return ours, theirs


def forward_backward(module: nn.Module, x: torch.Tensor, upstream: torch.Tensor) -> tuple:
    x = x.clone().requires_grad_(True)
    y = module(x)
    y.backward(upstream)
    return y.detach(), x.grad, module.weight.grad, module.bias.grad


@pytest.mark.parametrize("num_dims", [2, 4])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_scratch_batchnorm_matches_nn_batchnorm(num_dims: int, momentum: float) -> None:
    torch.manual_seed(0)
    ours, theirs = twin_pair(num_dims, momentum)
    for step in range(3):  # training: batch statistics, and the running statistics they move
        x = torch.randn(SHAPES[num_dims], dtype=torch.float64) * 3 + step
        upstream = torch.randn(SHAPES[num_dims], dtype=torch.float64)
        for a, b in zip(forward_backward(ours, x, upstream), forward_backward(theirs, x, upstream), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        torch.testing.assert_close(ours.running_mean, theirs.running_mean, atol=1e-5, rtol=0)
        torch.testing.assert_close(ours.running_var, theirs.running_var, atol=1e-5, rtol=0)
        ours.zero_grad()
        theirs.zero_grad()
    assert ours.running_mean.abs().max() > 0.1  # the statistics really moved away from their start
    ours.eval()
    theirs.eval()
    x = torch.randn(SHAPES[num_dims], dtype=torch.float64) + 5
    upstream = torch.randn(SHAPES[num_dims], dtype=torch.float64)
    running_before = ours.running_mean.clone()
    for a, b in zip(forward_backward(ours, x, upstream), forward_backward(theirs, x, upstream), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    assert torch.equal(ours.running_mean, running_before)  # eval mode leaves the statistics alone


def test_scratch_batchnorm_in_float32_and_rejects_wrong_rank() -> None:
    torch.manual_seed(1)
    ours, theirs = BatchNormScratch(3, num_dims=4), nn.BatchNorm2d(3)
    x = torch.randn(4, 3, 5, 5) * 10
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="4-D"):
        ours(torch.randn(4, 3))


@pytest.mark.parametrize("norm", ["none", "batchnorm", "batchnorm_scratch"])
def test_lenet_layout(norm: str) -> None:
    net = lenet(norm)
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [c.out_channels for c in convs] == [6, 16]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (400 if norm == "none" else 256, 120),  # padding 2 in the plain LeNet only, as in the book
        (120, 84),
        (84, 10),
    ]
    assert sum(isinstance(m, nn.Sigmoid) for m in net) == 4
    norms = [m for m in net if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | BatchNormScratch)]
    assert len(norms) == (0 if norm == "none" else 4)
    assert net(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert lenet(norm, image_size=96)(torch.rand(2, 1, 96, 96)).shape == (2, 10)


def test_lenet_rejects_unknown_norm() -> None:
    with pytest.raises(ConfigError, match="batchnorm_scratch"):
        lenet("layernorm")


@pytest.mark.parametrize("size", [28, 31, 96])
@pytest.mark.parametrize("model", [resnet18, densenet])
def test_resnet_and_densenet_take_any_size_from_28(model, size: int) -> None:
    net = model(in_channels=1, num_classes=10).eval()
    assert net(torch.rand(2, 1, size, size)).shape == (2, 10)


def test_resnet18_is_the_books() -> None:
    net = resnet18()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].kernel_size == (7, 7) and convs[0].stride == (2, 2)
    # 1 stem + 8 blocks × 2 convs + 3 shortcut 1×1 convs (one per stage that changes the shape)
    assert len(convs) == 1 + 16 + 3
    assert sum(c.kernel_size == (1, 1) for c in convs) == 3
    features = net[:5](torch.rand(1, 1, 96, 96))
    assert features.shape == (1, 512, 3, 3)


def test_densenet_channels_follow_the_book() -> None:
    net = densenet()
    # 64 + 4·32 = 192 → 96, 96 + 128 = 224 → 112, 112 + 128 = 240 → 120, 120 + 128 = 248 into the classifier
    transitions = [m[2] for m in net if isinstance(m, nn.Sequential) and isinstance(m[-1], nn.AvgPool2d)]
    assert [(c.in_channels, c.out_channels) for c in transitions] == [(192, 96), (224, 112), (240, 120)]
    assert net[-1].in_features == 248


@pytest.mark.parametrize("build", [lenet, resnet18, densenet])
def test_models_start_in_training_mode(build) -> None:
    assert all(module.training for module in build().modules())
