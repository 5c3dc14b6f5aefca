"""Checks on a composed config, run before anything is built.

`check_config` reads the config top to bottom the way `build_run` will use it: the top-level values, whether the
model fits the data, whether every interpolation resolves, then each node that Hydra will instantiate: its
arguments against its `_target_`'s signature, the ranges of a library's class from that library's table, and
whether the accelerator exists here. A model's whole numbers are sizes, for a user's model too. Each refusal is
one ConfigError that names the key, the bad value and what is valid.

d2lab's own classes check their own ranges in their constructors, which `build_run` calls before any data is
loaded; what only a library can tell (a strategy's name) is left to `d2lab.checks.library_errors`.
"""

import re

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from d2lab.checks.accelerator import check_accelerator
from d2lab.checks.arguments import check_arguments, locate, targets
from d2lab.checks.library_errors import first_line
from d2lab.checks.lightning_trainer import TRAINER
from d2lab.checks.model_fits_data import check_model_fits_data
from d2lab.checks.model_sizes import check_model_sizes
from d2lab.checks.rules import BOOL, Rule, check_rules
from d2lab.checks.torch_optim import OPTIMIZERS
from d2lab.checks.values import whole
from d2lab.errors import ConfigError

BUILT = ("data", "model", "optimizer", "scheduler", "task", "trainer", "logger", "callbacks")  # what build_run makes
TABLES = (TRAINER, OPTIMIZERS)  # the libraries' classes whose ranges d2lab says with the key

# d2lab's own top-level keys: no class receives them, so no constructor can check them.
TOP_RULES = {
    "seed": Rule(lambda v: whole(v) and 0 <= v < 2**32, "a whole number from 0 to 4294967295 (2**32 - 1)"),
    "train": BOOL,
    "test": BOOL,
    "predict": BOOL,
    "print_config": BOOL,
    "live_plot": Rule(lambda v: v is None or isinstance(v, bool), "true, false, or null (on only inside Jupyter)"),
}


def check_config(cfg: DictConfig) -> None:
    """Refuse a bad value anywhere in `cfg` with a ConfigError that names the key, the value and what is valid."""
    check_rules("", TOP_RULES, cfg)
    check_model_fits_data(cfg)
    groups = {group: resolved(cfg, group) for group in BUILT if cfg.get(group) is not None}
    for where, node in targets(groups):
        if not isinstance(node["_target_"], str):
            continue  # Hydra says what is wrong with that
        obj = locate(where, node["_target_"])
        tables = [table for table in TABLES if isinstance(obj, type) and table.covers(obj)]
        for table in tables:  # the table's words first: they say more than a type
            check_rules(f"{where}.", table.rules, node)
        check_arguments(where, node)
        for table in tables:
            table.across_keys(where, node)
        if where == "model":
            check_model_sizes(node)
    if isinstance(groups.get("trainer"), dict):
        check_accelerator(groups["trainer"])


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
