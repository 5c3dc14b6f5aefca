"""The composed config as a tree, printed at the start of a single run and saved in its folder."""

from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    from rich.tree import Tree

FIRST = ("data", "model", "optimizer", "scheduler", "task", "trainer", "logger", "callbacks")  # what a run builds
FILE = "config_tree.txt"


def as_yaml(node: object) -> str:
    """A group's YAML with its interpolations resolved; as written where one cannot resolve (the build that
    follows explains it)."""
    if not OmegaConf.is_config(node):
        return f"{node}\n"
    try:
        return OmegaConf.to_yaml(node, resolve=True)
    except Exception:  # noqa: BLE001 - printing must never be what stops a run
        return OmegaConf.to_yaml(node)


def config_tree(cfg: DictConfig) -> "Tree":
    """One branch per top-level key, the groups a run builds first; Hydra's own settings are left out."""
    from rich.syntax import Syntax
    from rich.tree import Tree

    tree = Tree("config", guide_style="dim")
    keys = [k for k in FIRST if k in cfg] + [k for k in cfg if k not in FIRST and k != "hydra"]
    for key in keys:
        tree.add(f"[bold]{key}[/bold]").add(Syntax(as_yaml(cfg.get(key)).rstrip(), "yaml", background_color="default"))
    return tree


def print_config(cfg: DictConfig, out_dir: str | Path) -> Path:
    """Print the tree to the console, and write it, without colour, to `<out_dir>/config_tree.txt`."""
    from rich.console import Console

    tree = config_tree(cfg)
    Console().print(tree)
    path = Path(out_dir) / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as file:
        Console(file=file, color_system=None, width=120).print(tree)
    return path
