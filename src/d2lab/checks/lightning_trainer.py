"""Lightning's Trainer arguments that d2lab's users type, checked before anything is built.

Lightning checks some of these only when fit starts, some never (max_epochs=1.5, accumulate_grad_batches=0 and
gradient_clip_val=-1 pass its constructor), and its messages for others are a TypeError about `<`.
"""

import re

from d2lab.checks.rules import Rule, Table, at_least
from d2lab.checks.values import number, whole


def batches(value: object) -> bool:
    """Lightning's limit_*_batches: a fraction of the batches, or a count of them."""
    return (whole(value) and value >= 0) or (isinstance(value, float) and 0 <= value <= 1)


TIMEDELTA_KEYS = {"weeks", "days", "hours", "minutes", "seconds", "milliseconds", "microseconds"}


def time_span(value: object) -> bool:
    """Lightning's max_time (and val_check_interval): "DD:HH:MM:SS" or a dict of timedelta's arguments."""
    if isinstance(value, str):
        return re.fullmatch(r"\d+:\d\d:\d\d:\d\d", value.strip()) is not None
    return isinstance(value, dict) and bool(value) and set(value) <= TIMEDELTA_KEYS and all(map(number, value.values()))


def devices(value: object) -> bool:
    if whole(value):
        return value >= 1 or value == -1
    if isinstance(value, str):
        return re.fullmatch(r"auto|-1|\d+(,\d+)*,?", value.strip()) is not None
    return isinstance(value, list) and bool(value) and all(whole(v) and v >= 0 for v in value)


def is_trainer(cls: type) -> bool:
    """Lightning's Trainer or a subclass, read from the class's bases so that nothing more is imported."""
    lightning = ("lightning.", "pytorch_lightning.")
    return any(c.__name__ == "Trainer" and c.__module__.startswith(lightning) for c in cls.__mro__)


TRAINER = Table(
    mirrors="lightning 2.6 Trainer.__init__ and the checks its fit loop runs",
    covers=is_trainer,
    rules={
        "max_epochs": at_least(-1, "a whole number >= 0, or -1 for no limit", is_whole=True, null=True),
        "min_epochs": at_least(0, "a whole number >= 0, or null", is_whole=True, null=True),
        "max_steps": at_least(-1, "a whole number of optimizer steps >= 0, or -1 for no limit", is_whole=True),
        "min_steps": at_least(0, "a whole number of optimizer steps >= 0, or null", is_whole=True, null=True),
        "max_time": Rule(
            lambda v: v is None or time_span(v), "a time 'DD:HH:MM:SS', a dict such as {hours: 1}, or null"
        ),
        "check_val_every_n_epoch": at_least(
            1, "a whole number >= 1, or null to validate by val_check_interval only", is_whole=True, null=True
        ),
        "val_check_interval": Rule(
            lambda v: v is None or (whole(v) and v >= 1) or (number(v) and 0 < v <= 1) or time_span(v),
            "a fraction of an epoch in (0, 1], a whole number of batches >= 1, a time 'DD:HH:MM:SS', or null",
        ),
        "num_sanity_val_steps": at_least(-1, "a whole number >= 0, -1 for all, or null", is_whole=True, null=True),
        "log_every_n_steps": at_least(
            0, "a whole number of steps >= 0 (0: not within epochs)", is_whole=True, null=True
        ),
        "accumulate_grad_batches": at_least(1, "a whole number >= 1", is_whole=True),
        **dict.fromkeys(
            ("limit_train_batches", "limit_val_batches", "limit_test_batches", "limit_predict_batches"),
            Rule(
                lambda v: v is None or batches(v), "a fraction of the batches in [0, 1], a whole number >= 0, or null"
            ),
        ),
        "overfit_batches": Rule(batches, "a fraction of the training batches in [0, 1], or a whole number >= 0"),
        "fast_dev_run": Rule(
            lambda v: isinstance(v, bool) or (whole(v) and v >= 0), "true, false or a whole number >= 0"
        ),
        "gradient_clip_val": at_least(0, "a number >= 0 (0: no clipping), or null", null=True),
        "gradient_clip_algorithm": Rule(
            lambda v: v is None or str(v).lower() in ("norm", "value"), "norm, value or null"
        ),
        "devices": Rule(devices, "a whole number >= 1, -1 for all, auto, or device indices such as [0,1]"),
        "num_nodes": at_least(1, "a whole number >= 1", is_whole=True),
    },
)
