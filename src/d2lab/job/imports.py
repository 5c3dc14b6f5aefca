"""A run's imports, with Python's cyclic garbage collector paused while they happen.

Importing torch and Lightning creates hundreds of thousands of objects, and the collector walks all of them again
each time the heap has grown by a quarter: full passes that add about a fifth to the import and find almost no
garbage (docs/benchmarks.md). So a run imports torch, Lightning and the modules of its config's `_target_`s up
front with the collector paused, and then freezes what the imports made (`gc.freeze`), so that later passes, in
this job and in the next job of a sweep, do not walk it either. A Python session (a notebook's kernel) is not
frozen: its user's objects would never be collected.
"""

import contextlib
import gc
import importlib
import sys
from collections.abc import Iterable, Iterator

from omegaconf import DictConfig, OmegaConf

RUN_MODULES = ("torch", "lightning.pytorch")  # what every run imports, whatever its config


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def target_modules(config: DictConfig) -> list[str]:
    """The modules of the `_target_`s in `config` (its `hydra` node aside): what a job of it will build."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("_target_"), str) and "." in node["_target_"]:
                found.append(node["_target_"].rsplit(".", 1)[0])
            node = list(node.values())
        for child in node if isinstance(node, list) else []:
            walk(child)

    walk({k: v for k, v in OmegaConf.to_container(config, resolve=False).items() if k != "hydra"})
    return list(dict.fromkeys(found))


def import_modules(names: Iterable[str], freeze: bool) -> None:
    """Import `names` with the collector paused, then, if `freeze` and something was imported, freeze what lives
    (only then: a sweep's later jobs would freeze their own configs, which outlive nothing). A module that fails
    to import is left to the code that needs it, which says so in its own words."""
    before = len(sys.modules)
    with collector_paused():
        for name in names:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        # Frozen before the collector resumes: resumed first, its next allocation would start a young pass holding
        # everything the imports made, the very walk the pause avoided. The price: the imports' few thousand
        # unreachable objects are frozen too, never freed (gc.freeze's own trade-off).
        if freeze and len(sys.modules) > before:
            gc.freeze()


def import_for_run(cfg: DictConfig) -> None:
    """Everything a run of `cfg` will import, before it starts (nothing to do from its sweep's second job on)."""
    from d2lab.job.record import from_python

    import_modules([*RUN_MODULES, *target_modules(cfg)], freeze=not from_python.get())
