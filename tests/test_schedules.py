"""The book's learning-rate schedules, by value and as LambdaLR."""

import math

import pytest
import torch

from d2lab.errors import ConfigError
from d2lab.optim.schedules import Constant, Cosine, Exponential, Polynomial, Step


def test_schedule_factors_are_the_books_formulas():
    assert Constant().factor(7, 10) == 1.0
    assert Exponential(rate=0.1).factor(5, 10) == pytest.approx(math.exp(-0.5))
    assert Polynomial(alpha=0.1, power=0.5).factor(10, 10) == pytest.approx(2**-0.5)
    assert [Step(step_size=2, gamma=0.5).factor(t, 10) for t in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    cosine = Cosine(warmup=2, warmup_start=0.0, final=0.1)
    assert [cosine.factor(t, 12) for t in (0, 1, 2)] == pytest.approx([0.0, 0.5, 1.0])
    assert cosine.factor(7, 12) == pytest.approx(0.1 + 0.9 * 0.5)
    assert cosine.factor(12, 12) == pytest.approx(0.1) and cosine.factor(20, 12) == pytest.approx(0.1)


def test_build_drives_the_optimizer_lr():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    scheduler = Exponential(rate=0.1).build(opt, total=10)
    for _ in range(3):
        opt.step()
        scheduler.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 * math.exp(-0.3))


def test_unknown_interval_is_refused():
    with pytest.raises(ConfigError, match="scheduler.interval='batch'.*epoch, step"):
        Constant(interval="batch")
