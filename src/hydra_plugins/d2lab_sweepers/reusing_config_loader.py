"""Hydra's config loader for a sweep's jobs, composing each defaults tree once.

Hydra composes every job of a sweep from scratch: it builds the defaults tree, reads and merges each config file,
and only then applies the job's `key=value` overrides to the result. Jobs that differ only in those values (a grid
over `optimizer.lr` and `seed`) build the same tree again each time. This loader composes the first such job with
Hydra's own loader, keeps the result, and makes each later one from a copy of it by applying its values as Hydra
does (`OmegaConf.update(cfg, key, value, merge=True)`), then setting the two fields Hydra derives from the
overrides (`hydra.overrides.task`, `hydra.job.override_dirname`).

Anything else composes with Hydra's loader as before: a job whose config groups, `hydra.*` overrides or
`+`/`++`/`~` overrides differ, a value that is a list or a dict, a key that is not already a plain value in the
config, and any override that fails (so that the error is Hydra's own).
"""

import pickle
import re
from dataclasses import dataclass
from typing import Any

from hydra.core.config_loader import ConfigLoader
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.plugins.config_source import ConfigSource
from hydra.types import HydraContext, RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

SCALARS = (str, int, float, bool, type(None))


@dataclass
class Composed:
    master: DictConfig  # the sweep's config this job was composed against
    pickled: bytes  # unpickling a config is several times faster than deep-copying it
    reusable: bool  # whether the jobs of this shape can be made from it (decided once, from the shape)


class ReusingConfigLoader(ConfigLoader):
    def __init__(self, delegate: ConfigLoader) -> None:
        self.delegate = delegate
        self.composed: dict[tuple, Composed] = {}
        self.groups: dict[str, set[str]] = {}
        self.reused = 0  # jobs made from a composed config, for tests and benchmarks

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        try:
            overrides = OverridesParser.create().parse_overrides(list(sweep_overrides))
        except Exception:  # Hydra's loader says what is wrong with it
            return self.delegate.load_sweep_config(master_config, sweep_overrides)
        kinds = [(o, self.is_value(o)) for o in overrides]
        values = [o for o, value in kinds if value]
        shape = tuple(("value", o.key_or_group) if value else o.input_line for o, value in kinds)
        composed = self.composed.get(shape)
        if composed is not None and composed.master is master_config and composed.reusable:
            try:
                cfg = pickle.loads(composed.pickled)
                for override in values:
                    OmegaConf.update(cfg, override.key_or_group, override.value(), merge=True)
            except OmegaConfBaseException:  # e.g. a str for an int field: Hydra's loader words the error
                return self.delegate.load_sweep_config(master_config, sweep_overrides)
            self.set_derived_fields(cfg, overrides)
            OmegaConf.copy_cache(from_config=master_config, to_config=cfg)  # as Hydra's loader does
            self.reused += 1
            return cfg
        cfg = self.delegate.load_sweep_config(master_config, sweep_overrides)
        if composed is None or composed.master is not master_config:  # once per shape: only a reusable one is pickled
            reusable = self.reusable(OmegaConf.to_container(cfg, resolve=False), kinds)
            self.composed[shape] = Composed(master_config, pickle.dumps(cfg) if reusable else b"", reusable)
        return cfg

    def is_value(self, override: Override) -> bool:
        """A plain `key=value` on a key that is not a config group: Hydra applies it after composing."""
        return (
            override.type == OverrideType.CHANGE
            and override.package is None
            and not override.is_sweep_override()
            and not override.is_hydra_override()
            and isinstance(override.value(), SCALARS)
            and not self.is_group(override.key_or_group)
        )

    def reusable(self, plain: dict, kinds: list[tuple[Override, bool]]) -> bool:
        """Every value lands on a plain value of the composed config, and no other override that Hydra applies
        after composing (`+key`, `++key`, `~key`, a dict) touches the same keys, so the order of applying them
        cannot matter."""
        others = [o.key_or_group for o, value in kinds if not value and self.applied_after_composing(o)]
        for override in (o for o, value in kinds if value):
            key = override.key_or_group
            node: Any = plain
            for part in key.split("."):
                if not isinstance(node, dict) or part not in node:
                    return False
                node = node[part]
            if not isinstance(node, SCALARS):
                return False
            if any(k == key or k.startswith(f"{key}.") or key.startswith(f"{k}.") for k in others):
                return False
        return True

    def applied_after_composing(self, override: Override) -> bool:
        """Hydra's split: a dict, or a key that is not a config group, is applied to the composed config."""
        return isinstance(override.value(), dict) or not self.is_group(override.key_or_group)

    def is_group(self, key: str) -> bool:
        parent, _, name = key.rpartition("/")
        if parent not in self.groups:
            self.groups[parent] = set(self.delegate.list_groups(parent))
        return name in self.groups[parent]

    @staticmethod
    def set_derived_fields(cfg: DictConfig, overrides: list[Override]) -> None:
        """What Hydra's loader writes from the overrides' text: the task's overrides, and the run folder's name
        made of them (Hydra's `get_overrides_dirname`, which is not public)."""
        task = [o for o in overrides if not o.is_hydra_override()]
        cfg.hydra.overrides.task = [o.input_line for o in task]
        naming = cfg.hydra.job.config.override_dirname
        lines = sorted(o.input_line for o in task if o.key_or_group not in naming.exclude_keys)
        cfg.hydra.job.override_dirname = re.sub("[=]", naming.kv_sep, naming.item_sep.join(lines))

    # The rest is Hydra's loader's.
    def load_configuration(
        self,
        config_name: str | None,
        overrides: list[str],
        run_mode: RunMode,
        from_shell: bool = True,
        validate_sweep_overrides: bool = True,
    ) -> DictConfig:
        return self.delegate.load_configuration(config_name, overrides, run_mode, from_shell, validate_sweep_overrides)

    def get_search_path(self) -> ConfigSearchPath:
        return self.delegate.get_search_path()

    def get_sources(self) -> list[ConfigSource]:
        return self.delegate.get_sources()

    def list_groups(self, parent_name: str) -> list[str]:
        return self.delegate.list_groups(parent_name)

    def get_group_options(
        self,
        group_name: str,
        results_filter: ObjectType | None = ObjectType.CONFIG,
        config_name: str | None = None,
        overrides: list[str] | None = None,
    ) -> list[str]:
        return self.delegate.get_group_options(group_name, results_filter, config_name, overrides)

    def compute_defaults_list(self, config_name: str | None, overrides: list[str], run_mode: RunMode) -> Any:
        return self.delegate.compute_defaults_list(config_name, overrides, run_mode)


def reusing_context(hydra_context: HydraContext) -> HydraContext:
    """The sweep's Hydra context, with its config loader wrapped (once)."""
    if isinstance(hydra_context.config_loader, ReusingConfigLoader):
        return hydra_context
    loader = ReusingConfigLoader(hydra_context.config_loader)
    return HydraContext(config_loader=loader, callbacks=hydra_context.callbacks)
