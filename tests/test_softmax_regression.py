"""The default model on Fashion-MNIST is the book's softmax regression (4.5): flatten, one linear layer, CE."""

import pytest
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from torch import nn

from tests.fashion_idx import write_fake_fashion_mnist

SMALL = ("data=fashion_mnist", "data.batch_size=16", "data.eval_batch_size=32", "~logger", "callbacks=none")


def test_default_model_trains_on_fashion_mnist(train_cfg, tmp_path) -> None:
    write_fake_fashion_mnist(tmp_path / "data")
    # lr 0.01, not the book's 0.1: every fake pixel encodes the label, so 784 inputs push together and 0.1 overshoots
    summary, cfg = train_cfg(*SMALL, "optimizer.lr=0.01", "trainer.max_epochs=3")
    net = instantiate(cfg.model)
    assert cfg.model._target_.endswith("LinearNet") and cfg.task._target_.endswith("ClassificationTask")
    assert (net.linear.in_features, net.linear.out_features) == (784, 10)
    # the book's init: weights from N(0, 0.01²), bias 0
    assert net.linear.bias.abs().max() == 0 and net.linear.weight.std().item() == pytest.approx(0.01, rel=0.1)
    history = summary["history"]
    assert len(history) == 3 and history[-1]["train/loss"] < history[0]["train/loss"]
    assert 0 <= summary["test/acc"] <= 1


def test_the_layer_follows_the_image_size(compose_cfg) -> None:
    cfg = compose_cfg("data=fashion_mnist", "data.resize=96")
    assert cfg.data.num_features == 96 * 96
    net = instantiate(cfg.model)
    assert (net.linear.in_features, net.linear.out_features) == (96 * 96, 10)
    assert net(torch.rand(2, 1, 96, 96)).shape == (2, 10)  # (N, C, H, W) images are flattened


def test_a_num_features_that_disagrees_with_the_images_is_refused(compose_cfg) -> None:
    cfg = compose_cfg("data=fashion_mnist", "data.num_features=100")
    with pytest.raises(InstantiationException, match=r"data.num_features=100 .* 784"):
        instantiate(cfg.data)


@pytest.mark.parametrize("data", ["synthetic", "airfoil", "thermometer"])
def test_regression_data_keep_one_output(compose_cfg, data: str) -> None:
    net = instantiate(compose_cfg(f"data={data}").model)
    assert isinstance(net.flatten, nn.Flatten) and net.linear.out_features == 1


def test_preset_holds_the_books_settings(compose_cfg) -> None:
    cfg = compose_cfg("experiment=d2l_softmax_regression")
    assert cfg.model._target_.endswith("LinearNet") and cfg.data._target_.endswith("FashionMNISTData")
    assert cfg.optimizer._target_ == "torch.optim.SGD" and cfg.optimizer.lr == 0.1
    assert (cfg.data.batch_size, cfg.trainer.max_epochs, cfg.data.resize, cfg.data.normalize) == (256, 10, 28, False)
    assert (cfg.model.in_features, cfg.model.out_features) == (784, 10)
    assert cfg.task.monitor == "val/acc" and cfg.task_name == "d2l_softmax_regression"


def test_softmax_regression_from_scratch_trains_and_refuses_hand_gradients(train_cfg, tmp_path):
    from d2lab.errors import ConfigError, find_user_error

    write_fake_fashion_mnist(tmp_path / "data")
    small = ("data=fashion_mnist", "model=linear_scratch", "data.batch_size=16", "~logger", "callbacks=none")
    summary, cfg = train_cfg(*small, "optimizer.lr=0.01", "trainer.max_epochs=2")
    assert cfg.model.out_features == 10 and summary["steps"] > 0 and summary["test/acc"] >= 0
    with pytest.raises(Exception) as info:  # Hydra wraps what the task raised
        train_cfg(*small, "model.manual_grad=true")
    assert isinstance(find_user_error(info.value), ConfigError) and "model.manual_grad=false" in str(info.value)
