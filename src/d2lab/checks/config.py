"""Checks on a composed config, run before anything is built.

`check_config` reads the config top to bottom the way `build_run` will use it: the top-level values, whether the
model fits the data, whether every interpolation resolves, the ranges of the values d2lab's users type, the types
each `_target_`'s signature asks for, and whether the accelerator exists here. Each refusal is one ConfigError
that names the key, the bad value and what is valid.

What only a library can tell (a strategy's name, how many GPUs there are) is left to `d2lab.checks.library_errors`.
"""

import importlib
import importlib.util
import inspect
import math
import re
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from d2lab.errors import ConfigError
from d2lab.paths import config_dir

BUILT = ("data", "model", "optimizer", "scheduler", "task", "trainer", "logger", "callbacks")  # what build_run makes


# --- what a value may be ---------------------------------------------------------------------------------------
def whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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

TOP_RULES = {
    "seed": Rule(lambda v: whole(v) and 0 <= v < 2**32, "a whole number from 0 to 4294967295 (2**32 - 1)"),
    "train": BOOL,
    "test": BOOL,
    "predict": BOOL,
    "print_config": BOOL,
    "live_plot": Rule(lambda v: v is None or isinstance(v, bool), "true, false, or null (on only inside Jupyter)"),
}

# The Trainer arguments d2lab's users type. Lightning checks some of these only when fit starts, some never
# (max_epochs=1.5, accumulate_grad_batches=0, gradient_clip_val=-1 pass its constructor), and its messages
# for others are a TypeError about `<`.
TRAINER_RULES = {
    "max_epochs": at_least(-1, "a whole number >= 0, or -1 for no limit", is_whole=True, null=True),
    "min_epochs": at_least(0, "a whole number >= 0, or null", is_whole=True, null=True),
    "max_steps": at_least(-1, "a whole number of optimizer steps >= 0, or -1 for no limit", is_whole=True),
    "min_steps": at_least(0, "a whole number of optimizer steps >= 0, or null", is_whole=True, null=True),
    "max_time": Rule(lambda v: v is None or time_span(v), "a time 'DD:HH:MM:SS', a dict such as {hours: 1}, or null"),
    "check_val_every_n_epoch": at_least(
        1, "a whole number >= 1, or null to validate by val_check_interval only", is_whole=True, null=True
    ),
    "val_check_interval": Rule(
        lambda v: v is None or (whole(v) and v >= 1) or (number(v) and 0 < v <= 1) or time_span(v),
        "a fraction of an epoch in (0, 1], a whole number of batches >= 1, a time 'DD:HH:MM:SS', or null",
    ),
    "num_sanity_val_steps": at_least(-1, "a whole number >= 0, -1 for all, or null", is_whole=True, null=True),
    "log_every_n_steps": at_least(0, "a whole number of steps >= 0 (0: not within epochs)", is_whole=True, null=True),
    "accumulate_grad_batches": at_least(1, "a whole number >= 1", is_whole=True),
    **dict.fromkeys(
        ("limit_train_batches", "limit_val_batches", "limit_test_batches", "limit_predict_batches"),
        Rule(lambda v: v is None or batches(v), "a fraction of the batches in [0, 1], a whole number >= 0, or null"),
    ),
    "overfit_batches": Rule(batches, "a fraction of the training batches in [0, 1], or a whole number >= 0"),
    "fast_dev_run": Rule(lambda v: isinstance(v, bool) or (whole(v) and v >= 0), "true, false or a whole number >= 0"),
    "gradient_clip_val": at_least(0, "a number >= 0 (0: no clipping), or null", null=True),
    "gradient_clip_algorithm": Rule(lambda v: v is None or str(v).lower() in ("norm", "value"), "norm, value or null"),
    "devices": Rule(devices, "a whole number >= 1, -1 for all, auto, or device indices such as [0,1]"),
    "num_nodes": at_least(1, "a whole number >= 1", is_whole=True),
}
# torch's own ranges (its optimizers raise "Invalid momentum value: -1"), said with the key. optimizer.lr is
# checked by the task, which knows the book's values.
OPTIMIZER_RULES = {
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
}
# The fields of d2lab.optim.schedules; t counts epochs or optimizer steps, per scheduler.interval.
SCHEDULER_RULES = {
    "warmup": at_least(0, "a whole number of epochs or steps >= 0 (0: no warmup)", is_whole=True),
    "warmup_start": at_least(0, "a number >= 0, the fraction of optimizer.lr the warmup starts from"),
    "final": at_least(0, "a number >= 0, the fraction of optimizer.lr the schedule ends at"),
    "rate": at_least(0, "a number >= 0 (0: a constant lr)"),
    "alpha": at_least(0, "a number >= 0"),
    "power": at_least(0, "a number >= 0"),
    "step_size": at_least(1, "a whole number of epochs or steps >= 1", is_whole=True),
    "gamma": at_least(0, "a number > 0 (below 1 decays the lr)", above=True),
}
# What the data modules do not check themselves (batch_size, val_fraction, resize ... they do).
DATA_RULES = {
    "num_examples": at_least(2, "a whole number >= 2", is_whole=True),
    "eval_batch_size": at_least(1, "a whole number >= 1", is_whole=True),
    "noise_std": at_least(0, "a number >= 0"),
}
GROUP_RULES = {"trainer": TRAINER_RULES, "optimizer": OPTIMIZER_RULES, "scheduler": SCHEDULER_RULES, "data": DATA_RULES}


# --- the check ---------------------------------------------------------------------------------------------------
def check_config(cfg: DictConfig) -> None:
    """Refuse a bad value anywhere in `cfg` with a ConfigError that names the key, the value and what is valid."""
    check_rules("", TOP_RULES, cfg)
    check_model_fits_data(cfg)
    groups = {group: resolved(cfg, group) for group in BUILT if cfg.get(group) is not None}
    for group, rules in GROUP_RULES.items():
        if isinstance(groups.get(group), dict):
            check_rules(f"{group}.", rules, groups[group])
    for where, node in targets(groups):
        check_arguments(where, node)
    if isinstance(groups.get("optimizer"), dict):
        check_nesterov(groups["optimizer"])
    if isinstance(groups.get("model"), dict) and "_target_" in groups["model"]:
        check_model_sizes(groups["model"])
    if isinstance(groups.get("trainer"), dict):
        check_accelerator(groups["trainer"])


def check_rules(prefix: str, rules: dict[str, Rule], node: DictConfig | dict) -> None:
    for key, rule in rules.items():
        if key in node and not rule.ok(value := node[key]):
            raise ConfigError(f"{prefix}{key}={shown(value)} is invalid: it must be {rule.valid}.")


def shown(value: object) -> str:
    """A value as the message shows it: strings quoted, null and true/false as typed on the command line."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=False)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return repr(value)


def check_nesterov(optimizer: dict) -> None:
    """torch's one rule across optimizer keys, said with the keys."""
    momentum, dampening = optimizer.get("momentum", 0), optimizer.get("dampening", 0)
    if optimizer.get("nesterov") is True and not (momentum > 0 and dampening == 0):
        raise ConfigError(
            f"optimizer.nesterov=true needs optimizer.momentum > 0 and optimizer.dampening=0 (torch's rule); here "
            f"momentum={momentum} and dampening={dampening}. optimizer=momentum optimizer.nesterov=true fits it."
        )


# --- does the model fit the data? ----------------------------------------------------------------------------------
@cache
def group_files(group: str) -> dict[str, DictConfig]:
    """Each choice of a config group as written in conf/<group>/*.yaml, unresolved."""
    folder = Path(config_dir()) / group
    return {path.stem: OmegaConf.load(path) for path in sorted(folder.glob("*.yaml"))}


def data_keys_read(node: DictConfig) -> set[str]:
    """The `X` of every `${data.X}` in `node`. `${oc.select:data.X,default}` has a fallback, so it is not needed."""
    return set(re.findall(r"\$\{data\.(\w+)", str(OmegaConf.to_container(node, resolve=False))))


def data_keys(node: DictConfig) -> set[str]:
    return set(node) - {"defaults"}


def check_model_fits_data(cfg: DictConfig) -> None:
    model, data = cfg.get("model"), cfg.get("data")
    if not isinstance(model, DictConfig) or not isinstance(data, DictConfig):
        return
    needs, has = data_keys_read(model), data_keys(data)
    if needs <= has:
        return
    model_name, data_name = choice_name("model", model), choice_name("data", data)
    models = [name for name, node in group_files("model").items() if data_keys_read(node) <= has]
    datas = [name for name, node in group_files("data").items() if needs <= data_keys(node)]
    lacking = ", ".join(f"data.{key}" for key in sorted(needs - has))
    raise ConfigError(
        f"model={model_name} does not fit data={data_name}: the model reads {lacking}, which {data_name} does not "
        f"have. Models that fit data={data_name}: {', '.join(models) or 'none'}. "
        f"Data that fit model={model_name}: {', '.join(datas) or 'none'}."
    )


def choice_name(group: str, node: DictConfig) -> str:
    """The choice the user typed for `group` (model=lenet), or else the conf/<group>/ file with node's _target_.

    The Hydra choice can belong to another composition (eval rebuilds the training run's config), so it is
    trusted only where it agrees with the node's _target_."""
    from hydra.core.hydra_config import HydraConfig

    files = group_files(group)
    target = node.get("_target_") if isinstance(node, DictConfig) else None
    chosen = HydraConfig.get().runtime.choices.get(group) if HydraConfig.initialized() else None
    if chosen in files and files[chosen].get("_target_", target) == target:
        return chosen
    same = [name for name, file in files.items() if target is not None and file.get("_target_") == target]
    return same[0] if same else chosen or str(target).rsplit(".", 1)[-1]


# --- interpolations ----------------------------------------------------------------------------------------------
def resolved(cfg: DictConfig, group: str) -> object:
    """`cfg[group]` as plain containers, every interpolation resolved and no ??? left."""
    try:
        return OmegaConf.to_container(cfg[group], resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as exc:
        key = exc.full_key or group
        written = raw_value(cfg, key)
        if "Missing mandatory value" in str(exc):
            raise ConfigError(f"{key} is missing (???): set it on the command line, e.g. {key}=<value>.") from exc
        raise ConfigError(
            f"{key}={written} cannot be resolved: {first_line(exc)}. Set {key} to a value, or add the key it "
            f"refers to; see `python -m d2lab.train --cfg job --package {group}`."
        ) from exc


def raw_value(cfg: DictConfig, full_key: str) -> str:
    """What the config says at `full_key` (a.b[0].c), interpolations unresolved."""
    node: object = OmegaConf.to_container(cfg, resolve=False)
    for part in re.findall(r"[^.\[\]]+", full_key):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return "?"
    return str(node)


# --- types, from each _target_'s signature -----------------------------------------------------------------------
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


def check_model_sizes(model: dict) -> None:
    """A model's whole numbers are sizes and counts (channels, classes, pixels, growth rate, blocks): torch would
    stop on a negative one deep inside a layer. An argument whose own default is below 1 is exempt."""
    params, _, _ = parameters(locate("model", model["_target_"]))
    for key, value in model.items():
        default = params[key].default if key in params else None
        if whole(default) and default < 1:
            continue
        values = value if isinstance(value, list) else [value]
        if any(whole(v) and v < 1 for v in values):
            raise ConfigError(f"model.{key}={shown(value)} is invalid: model sizes and counts are whole numbers >= 1.")


# --- the accelerator ---------------------------------------------------------------------------------------------
def check_accelerator(trainer: dict) -> None:
    import torch

    accelerator = str(trainer.get("accelerator", "auto")).lower()
    mps = torch.backends.mps.is_available()
    if (accelerator == "cuda" or (accelerator == "gpu" and not mps)) and not torch.cuda.is_available():
        cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA"
        raise ConfigError(
            f"trainer.accelerator={accelerator!r}: no CUDA GPU is visible here (torch.cuda.is_available() is False; "
            f"torch {torch.__version__} was built with {cuda}). trainer=cpu runs on the CPU; on a GPU machine "
            "check nvidia-smi and CUDA_VISIBLE_DEVICES."
        )
    if accelerator == "mps" and not mps:
        raise ConfigError(
            "trainer.accelerator='mps': no Apple MPS device is here (torch.backends.mps.is_available() is False). "
            "trainer=cpu runs on the CPU."
        )
    # Lightning's own message for too many GPUs ("You requested gpu: [0, 1]") does not name trainer.devices.
    wanted = trainer.get("devices", "auto")
    if accelerator in ("gpu", "cuda") and torch.cuda.is_available() and (whole(wanted) or isinstance(wanted, list)):
        count = torch.cuda.device_count()
        if (max(wanted) + 1 if isinstance(wanted, list) else wanted) > count:
            raise ConfigError(
                f"trainer.devices={shown(wanted)} asks for more GPUs than the {count} visible here: use a number "
                f"from 1 to {count}, indices from 0 to {count - 1}, or -1 for all."
            )


def first_line(exc: BaseException) -> str:
    """The library's own words, on one line. OmegaConf adds full_key/object_type lines: its first line says it."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    text = lines[0] if isinstance(exc, OmegaConfBaseException) else " ".join(lines[:3])
    return (text[:400] + " ...") if len(text) > 400 else text.rstrip(".")
