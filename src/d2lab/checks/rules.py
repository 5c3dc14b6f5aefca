"""Tables of rules, key by key, for values whose class cannot check them itself.

Two kinds of values need a table: d2lab's top-level keys (`seed`, `train`), which no class receives, and the
arguments of a library's class whose own checks come late, never, or without the key (lightning's Trainer, torch's
optimizers). Every d2lab class checks its own ranges in its constructor instead (d2lab.checks.values).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from d2lab.checks.values import number, shown, whole
from d2lab.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    ok: Callable[[object], bool]
    valid: str  # what `ok` accepts, in the words of the message


def at_least(minimum: float, valid: str, *, is_whole: bool = False, null: bool = False, above: bool = False) -> Rule:
    def ok(value: object) -> bool:
        if value is None:
            return null
        if not (whole(value) if is_whole else number(value)):
            return False
        return value > minimum if above else value >= minimum

    return Rule(ok, valid)


def between(low: float, high: float, valid: str) -> Rule:
    return Rule(lambda v: number(v) and low <= v <= high, valid)


BOOL = Rule(lambda v: isinstance(v, bool), "true or false")


@dataclass(frozen=True)
class Table:
    """The rules for the arguments of a library's classes, and the library version whose checks they mirror."""

    mirrors: str  # "lightning 2.6 Trainer.__init__"
    covers: Callable[[type], bool]  # which classes take these arguments (subclasses pass them on)
    rules: dict[str, Rule]
    across_keys: Callable[[str, dict], None] = field(default=lambda where, node: None)  # rules over several keys


def check_rules(prefix: str, rules: dict[str, Rule], node: dict) -> None:
    for key, rule in rules.items():
        if key in node and not rule.ok(value := node[key]):
            raise ConfigError(f"{prefix}{key}={shown(value)} is invalid: it must be {rule.valid}.")
