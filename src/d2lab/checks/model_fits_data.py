"""Whether the model fits the data: every `${data.X}` the model reads must be a key of the data.

What fits instead is read from the configs themselves, the user's own included: each choice of the `model` and
`data` groups on the run's search path (d2lab's conf/ and every folder on `hydra.searchpath`).
"""

import re
from functools import cache
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from d2lab.errors import ConfigError
from d2lab.paths import config_dir


def group_choices(group: str) -> dict[str, DictConfig]:
    """Each choice of a config group as written in its yaml, unresolved, from the config sources the run was
    composed from (`hydra.runtime.config_sources`: d2lab's conf/ and every folder on `hydra.searchpath`; the first
    to have a name wins, as in Hydra). Outside a Hydra run, the choices in d2lab's own conf/.

    Hydra's config loader forgets a run's `hydra.searchpath` once it has composed the config, so the sources are
    rebuilt from the run's record of them, through Hydra's plugin registry."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.object_type import ObjectType
    from hydra.core.plugins import Plugins
    from hydra.plugins.config_source import ConfigSource

    if not HydraConfig.initialized():
        return packaged_choices(group)
    kinds = {kind.scheme(): kind for kind in Plugins.instance().discover(ConfigSource)}
    sources = [
        kinds[info.schema](info.provider, f"{info.schema}://{info.path}")
        for info in HydraConfig.get().runtime.config_sources
        if info.schema in kinds and info.schema != "structured"  # structured: schemas, not choices
    ]
    choices: dict[str, DictConfig] = {}
    for source in sources:
        if not (source.available() and source.is_group(group)):
            continue
        for name in source.list(group, ObjectType.CONFIG):
            if name not in choices and isinstance(config := source.load_config(f"{group}/{name}").config, DictConfig):
                choices[name] = config
    return dict(sorted(choices.items()))


@cache
def packaged_choices(group: str) -> dict[str, DictConfig]:
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
    models = [name for name, node in group_choices("model").items() if data_keys_read(node) <= has]
    datas = [name for name, node in group_choices("data").items() if needs <= data_keys(node)]
    lacking = ", ".join(f"data.{key}" for key in sorted(needs - has))
    raise ConfigError(
        f"model={model_name} does not fit data={data_name}: the model reads {lacking}, which {data_name} does not "
        f"have. Models that fit data={data_name}: {', '.join(models) or 'none'}. "
        f"Data that fit model={model_name}: {', '.join(datas) or 'none'}."
    )


def choice_name(group: str, node: DictConfig) -> str:
    """The choice the user typed for `group` (model=lenet), or else the config of `group` with node's _target_.

    The Hydra choice can belong to another composition (eval rebuilds the training run's config), so it is
    trusted only where it agrees with the node's _target_."""
    from hydra.core.hydra_config import HydraConfig

    files = group_choices(group)
    target = node.get("_target_") if isinstance(node, DictConfig) else None
    chosen = HydraConfig.get().runtime.choices.get(group) if HydraConfig.initialized() else None
    if chosen in files and files[chosen].get("_target_", target) == target:
        return chosen
    same = [name for name, file in files.items() if target is not None and file.get("_target_") == target]
    return same[0] if same else chosen or str(target).rsplit(".", 1)[-1]
