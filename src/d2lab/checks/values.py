"""What a config value may be, and the one-paragraph refusal when it is not.

d2lab's own classes call these in their constructors, so each checks its own ranges and names its key
(`data.batch_size`, `scheduler.warmup`); the tables for libraries' classes use the same words.
"""

import math

from omegaconf import OmegaConf

from d2lab.errors import ConfigError


def whole(value: object) -> bool:
    """An int that is not a bool: YAML's `true` is not a count."""
    return isinstance(value, int) and not isinstance(value, bool)


def number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def shown(value: object) -> str:
    """A value as the message shows it: strings quoted, null and true/false as typed on the command line."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=False)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return repr(value)


def check_choice(name: str, value: object, choices: tuple) -> None:
    if value not in choices:
        valid = ", ".join(map(str, choices))
        raise ConfigError(f"{name}={shown(value)} is not a valid choice. Valid choices: {valid}.")


def check_whole_number(name: str, value: object, minimum: int = 1, hint: str = "") -> int:
    """`value` as an int if it is a whole number >= `minimum`, else a ConfigError."""
    if not whole(value) or value < minimum:
        raise ConfigError(f"{name}={shown(value)} is invalid: it must be a whole number >= {minimum}{hint}.")
    return value


def check_whole_numbers(name: str, values: object, minimum: int = 1) -> list[int]:
    """A list of whole numbers >= `minimum`, such as DenseNet's convs per block."""
    if OmegaConf.is_config(values):
        values = OmegaConf.to_container(values)
    if not isinstance(values, list | tuple) or not values or not all(whole(v) and v >= minimum for v in values):
        raise ConfigError(f"{name}={shown(values)} is invalid: it must be a list of whole numbers >= {minimum}.")
    return list(values)


def check_number(name: str, value: object, minimum: float = 0, *, above: bool = False, hint: str = "") -> float:
    """`value` if it is a finite number >= `minimum` (> with `above`), else a ConfigError."""
    if not number(value) or (value <= minimum if above else value < minimum):
        bound = f"{'>' if above else '>='} {minimum:g}"
        raise ConfigError(f"{name}={shown(value)} is invalid: it must be a number {bound}{hint}.")
    return value
