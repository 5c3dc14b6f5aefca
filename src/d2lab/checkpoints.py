"""Finding the checkpoint a command names: a path, or `last` for the newest last.ckpt of this task's runs."""

from pathlib import Path
from typing import TYPE_CHECKING

from d2lab.errors import ConfigError

if TYPE_CHECKING:
    from lightning import Trainer

TEST_CHECKPOINTS = ("best", "last")


def resolve_ckpt_path(ckpt_path: str | None, log_dir: str, task_name: str, exclude: str | None = None) -> str | None:
    if ckpt_path in (None, "", "null"):
        return None
    if ckpt_path == "last":
        root = Path(log_dir) / task_name
        found = [p for p in root.glob("**/checkpoints/last.ckpt") if exclude is None or Path(exclude) not in p.parents]
        if not found:
            raise ConfigError(
                f"ckpt_path=last: there is no checkpoints/last.ckpt under {root}. Give the file itself, "
                "e.g. ckpt_path=logs/train/runs/<stamp>/checkpoints/last.ckpt."
            )
        return str(max(found, key=lambda p: p.stat().st_mtime))
    if not Path(ckpt_path).is_file():
        raise ConfigError(
            f"ckpt_path={ckpt_path!r}: no such file. Use a run's checkpoints/last.ckpt, best.ckpt or "
            "interrupted.ckpt, or ckpt_path=last for the newest run of this task."
        )
    return ckpt_path


def checkpoint_to_test(choice: str, trainer: "Trainer") -> str | None:
    """The weights `trainer.test` should use: `best` is the checkpoint chosen on validation, `last` (None) the
    weights fit ended with. Without a monitoring ModelCheckpoint (e.g. `callbacks=none`), best falls back to last."""
    if choice == "last":
        return None
    from lightning.pytorch.callbacks import ModelCheckpoint

    for callback in trainer.callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.monitor and callback.best_model_path:
            return callback.best_model_path
    return None
