"""A config node's arguments against the signature of the class or function its `_target_` names.

This is what checks a user's own class without any table: an argument it does not take, or a value no argument
of that type can be (a string where it takes a whole number), is refused with the key before anything is built.
"""

import importlib
import inspect
import types
import typing
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from d2lab.checks.values import shown, whole
from d2lab.errors import ConfigError


def targets(node: object, where: str = "") -> Iterator[tuple[str, dict]]:
    """Every node with a `_target_` (what Hydra will instantiate), with its key such as trainer.plugins[0]."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield where, node
        for key, value in node.items():
            yield from targets(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from targets(value, f"{where}[{i}]")


def locate(where: str, target: str) -> object:
    """The object `_target_` names, or a ConfigError if no such module or attribute exists. A module that exists
    but fails to import (a bug, a missing dependency) raises its own error, traceback and all."""
    parts = target.split(".")
    for n in range(len(parts), 0, -1):
        module_name = ".".join(parts[:n])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name + ".").startswith(exc.name + "."):
                continue  # no module of that name: try the attribute of a shorter one
            raise
        for attr in parts[n:]:
            if not hasattr(obj, attr):
                break
            obj = getattr(obj, attr)
        else:
            return obj
        break
    raise ConfigError(f"{where}._target_={target!r} does not exist: no module or attribute of that name.")


def parameters(obj: object) -> tuple[dict[str, inspect.Parameter], dict[str, object], bool]:
    """The keyword arguments `obj` takes, their type hints, and whether it takes any others (**kwargs).

    A class whose __init__ passes **kwargs to its base's takes the base's arguments too (the d2lab tasks do)."""
    functions = []
    if inspect.isclass(obj):
        functions = [vars(cls)["__init__"] for cls in obj.__mro__ if "__init__" in vars(cls) and cls is not object]
    elif callable(obj):
        functions = [obj]
    params: dict[str, inspect.Parameter] = {}
    hints: dict[str, object] = {}
    for function in functions:
        function = inspect.unwrap(function)
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):  # a builtin without a signature: nothing to check against
            return params, hints, True
        with suppress(Exception):  # an annotation that does not evaluate here: check the argument's name only
            hints = typing.get_type_hints(function) | hints
        own = {k: p for k, p in signature.parameters.items() if p.kind is not p.VAR_POSITIONAL and k != "self"}
        params = {k: p for k, p in own.items() if p.kind is not p.VAR_KEYWORD} | params
        if not any(p.kind is p.VAR_KEYWORD for p in own.values()):
            return params, hints, False
    return params, hints, True  # every __init__ took **kwargs, or there was none to read


def check_arguments(where: str, node: dict) -> None:
    if not isinstance(node["_target_"], str):
        return  # Hydra says what is wrong with that
    obj = locate(where, node["_target_"])
    params, hints, takes_others = parameters(obj)
    name = node["_target_"].rsplit(".", 1)[-1]
    for key, value in node.items():
        if key.startswith("_") and key.endswith("_"):  # _target_, _partial_, _args_, ...
            continue
        if key not in params:
            if takes_others:
                continue
            raise ConfigError(
                f"{where}.{key} is not an argument of {name}: it takes {', '.join(params) or 'no arguments'}."
            )
        if isinstance(value, dict) and "_target_" in value:
            continue  # built by Hydra first, and checked on its own
        hint = hints.get(key)
        if hint is not None and not fits(value, hint):
            raise ConfigError(f"{where}.{key}={shown(value)} is invalid: {name} takes {describe(hint)}.")


def is_sequence(origin: object) -> bool:
    """list[X], tuple[X, ...], Sequence[X], Iterable[X]: what a config list can be."""
    return origin in (list, tuple) or getattr(origin, "__name__", "") in ("Sequence", "Iterable")


def fits(value: object, hint: object) -> bool:
    """Whether a config value (a plain str, int, float, bool, None, list or dict) can be an argument of type `hint`.
    A type that no config value can be (a Tensor) fits nothing; a type this cannot judge fits everything."""
    from torch import Tensor

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None) or hint is None:
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, arg) for arg in args)
    if origin is typing.Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return whole(value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if is_sequence(origin):
        if not isinstance(value, list | tuple):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(fits(v, a) for v, a in zip(value, args, strict=True))
        return not args or all(fits(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if inspect.isclass(hint) and issubclass(hint, Tensor):
        return False
    if inspect.isclass(hint) and issubclass(hint, Path):
        return isinstance(value, str)
    return True


def describe(hint: object) -> str:
    """A type hint as the message says it: "a whole number or null", "true, false, warn or null"."""
    words: list[str] = []

    def add(hint: object) -> None:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            for arg in args:
                add(arg)
        elif origin is typing.Literal:
            words.extend(str(a) for a in args)
        elif is_sequence(origin):
            item = describe(args[0]).removeprefix("a ").removeprefix("an ") if args else "value"
            fixed = origin is tuple and args and args[-1] is not Ellipsis
            words.append(f"a list of {len(args)} {item}s" if fixed and len(args) > 1 else f"a list of {item}s")
        else:
            words.append(
                {bool: "true, false", int: "a whole number", float: "a number", str: "a string", dict: "a dict"}.get(
                    hint, "null" if hint is type(None) else ""
                )
            )

    add(hint)
    words = [w for w in dict.fromkeys(", ".join(words).split(", ")) if w]
    if "a number" in words and "a whole number" in words:
        words.remove("a whole number")
    if "null" in words:  # said last
        words = [w for w in words if w != "null"] + ["null"]
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else "".join(words) or str(hint)
