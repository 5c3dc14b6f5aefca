"""torch's optimizers' ranges, said with the key before anything is built.

torch checks these itself ("Invalid momentum value: -1"), but only when the optimizer is made, after the data and
the model, and without the key. optimizer.lr is checked by the task, which knows the book's values.
"""

from d2lab.checks.rules import Rule, Table, at_least, between
from d2lab.checks.values import number
from d2lab.errors import ConfigError


def is_torch_optimizer(cls: type) -> bool:
    """One of torch.optim's optimizers, or a subclass of one. The bare base class does not count: d2lab's
    from-scratch optimizers extend it and take none of these arguments."""
    return any(c.__module__.startswith("torch.optim.") and c.__name__ != "Optimizer" for c in cls.__mro__)


def check_nesterov(where: str, optimizer: dict) -> None:
    """torch's one rule across optimizer keys, said with the keys."""
    momentum, dampening = optimizer.get("momentum", 0), optimizer.get("dampening", 0)
    if optimizer.get("nesterov") is True and not (momentum > 0 and dampening == 0):
        raise ConfigError(
            f"{where}.nesterov=true needs {where}.momentum > 0 and {where}.dampening=0 (torch's rule); here "
            f"momentum={momentum} and dampening={dampening}. optimizer=momentum optimizer.nesterov=true fits it."
        )


OPTIMIZERS = Table(
    # alpha and rho in [0, 1] are stricter than torch's alpha >= 0: a smoothing constant above 1 is a typo.
    mirrors="torch 2.14 torch.optim SGD, Adam(W), RMSprop, Adagrad and Adadelta __init__",
    covers=is_torch_optimizer,
    rules={
        "momentum": at_least(0, "a number >= 0 (0: plain SGD; the book uses 0.9)"),
        "weight_decay": at_least(0, "a number >= 0 (0: no weight decay)"),
        "eps": at_least(0, "a number >= 0"),
        "betas": Rule(
            lambda v: isinstance(v, list | tuple) and len(v) == 2 and all(number(b) and 0 <= b < 1 for b in v),
            "two numbers in [0, 1), such as [0.9,0.999]",
        ),
        "alpha": between(0, 1, "a number in [0, 1] (the book uses 0.9)"),
        "rho": between(0, 1, "a number in [0, 1] (the book uses 0.9)"),
        "lr_decay": at_least(0, "a number >= 0"),
        "initial_accumulator_value": at_least(0, "a number >= 0"),
    },
    across_keys=check_nesterov,
)
