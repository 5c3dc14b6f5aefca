"""Library errors while building one config group, turned into the paragraph d2lab prints for bad input.

Around one group's instantiation, `explained` turns a validation error of Hydra, OmegaConf, Lightning or torch
into a ConfigError naming the key (the one the library's message names), the library's own words and where to see
the group's values. Around fit and test, `refused_by_lightning` does the same for the flags Lightning can only
judge once it sees the data. Anything else, d2lab's own bugs included, passes through with its traceback.
"""

import importlib.util
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from d2lab.checks.model_fits_data import choice_name
from d2lab.checks.values import shown
from d2lab.errors import ConfigError, find_user_error


@cache
def library_folders() -> tuple[str, ...]:
    """Where the libraries whose validation errors `explained` rephrases live."""
    folders = []
    for name in ("hydra", "omegaconf", "lightning", "lightning_fabric", "pytorch_lightning", "torch", "torchmetrics"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            folders.extend(str(Path(p)) + "/" for p in spec.submodule_search_locations)
    return tuple(folders)


def innermost(exc: BaseException) -> BaseException:
    """The first error of a chain of explicit causes (Hydra wraps what a target raised in InstantiationException)."""
    seen = set()
    while exc.__cause__ is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__
    return exc


def is_validation_error(exc: BaseException) -> bool:
    """A library refusing a value: an OmegaConf or Lightning misconfiguration, Hydra's own complaint, or a
    ValueError/TypeError raised inside hydra, omegaconf, lightning or torch. The same errors raised by d2lab's
    own code are bugs (d2lab raises ConfigError for bad values) and keep their traceback."""
    from hydra.errors import InstantiationException
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    if isinstance(exc, OmegaConfBaseException | MisconfigurationException | InstantiationException):
        return True
    if not isinstance(exc, ValueError | TypeError):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(library_folders())


def leaves(node: object, where: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if not (str(key).startswith("_") and str(key).endswith("_")):
                yield from leaves(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list) and any(isinstance(v, dict) for v in node):
        for i, value in enumerate(node):
            yield from leaves(value, f"{where}[{i}]")
    else:
        yield where, node


def key_in_message(node: DictConfig | ListConfig | None, message: str) -> tuple[str, object] | None:
    """The key of `node` the library's message is about: the longest key named in it (preferring one whose value
    is named too), else a key whose string value is named (accelerator='gpu' for "No supported gpu backend")."""
    if node is None:
        return None
    try:
        plain = OmegaConf.to_container(node, resolve=True)
    except OmegaConfBaseException:
        plain = OmegaConf.to_container(node, resolve=False)

    def named(word: str) -> bool:
        return re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", message, re.IGNORECASE) is not None

    found = [(path, value) for path, value in leaves(plain) if path and named(path.rsplit(".", 1)[-1])]
    if found:
        return max(found, key=lambda pv: (named(str(pv[1])), len(pv[0].rsplit(".", 1)[-1])))
    by_value = [(p, v) for p, v in leaves(plain) if p and isinstance(v, str) and len(v) > 1 and named(v)]
    return by_value[0] if by_value else None


@contextmanager
def explained(group: str, node: DictConfig | None = None) -> Iterator[None]:
    """Inside, an error that Hydra, OmegaConf, Lightning or torch raise while building `group` becomes a
    ConfigError naming the key; anything else passes through unchanged."""
    try:
        yield
    except Exception as exc:
        if find_user_error(exc) is not None:
            raise  # already one paragraph (a data module's ConfigError, inside Hydra's wrapper)
        cause = innermost(exc)
        if not is_validation_error(cause):
            raise
        raise explanation(group, node, cause) from exc  # chained: HYDRA_FULL_ERROR=1 can show the library's own


@contextmanager
def refused_by_lightning(trainer_cfg: DictConfig) -> Iterator[None]:
    """Around fit and test: Lightning refuses some flags only once it sees the data (limit_val_batches=0.5 where
    validation has one batch). Its MisconfigurationException that names a key of `trainer_cfg` becomes the same
    paragraph; one that names none (a model without training_step, say) keeps its traceback."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        yield
    except MisconfigurationException as exc:
        if key_in_message(trainer_cfg, first_line(exc)) is None:
            raise
        raise explanation("trainer", trainer_cfg, exc) from exc


def explanation(group: str, node: DictConfig | None, cause: BaseException) -> ConfigError:
    """The paragraph for a library's refusal: the key it is about, the library's words, where to see the values."""
    message = first_line(cause)
    full_key = getattr(cause, "full_key", None)
    found = key_in_message(node, message)
    if isinstance(cause, OmegaConfBaseException) and full_key:
        head = f"{full_key} is invalid"
    elif found:
        head = f"{group}.{found[0]}={shown(found[1])} is invalid"
    else:
        head = f"The {group} config is invalid"
    choice = f"{group}={choice_name(group, node)} " if isinstance(node, DictConfig) else ""
    return ConfigError(
        f"{head}: {message}. See the {group} values with `python -m d2lab.train {choice}--cfg job --package {group}`."
    )


def first_line(exc: BaseException) -> str:
    """The library's own words, on one line. OmegaConf adds full_key/object_type lines: its first line says it."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    text = lines[0] if isinstance(exc, OmegaConfBaseException) else " ".join(lines[:3])
    return (text[:400] + " ...") if len(text) > 400 else text.rstrip(".")
