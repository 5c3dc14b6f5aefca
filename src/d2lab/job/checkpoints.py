"""Checkpoints: finding the one a command names, writing it whole, and reading it back as data only.

A .ckpt file is a pickle, and a pickle can name any function to call while it loads. d2lab reads every checkpoint
(eval, predict, resume, testing best.ckpt) with `torch.load(weights_only=True)`, which rebuilds plain values and
tensors and nothing else, so a crafted file is refused before any of it runs.
"""

import logging
import os
import pickle
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from d2lab.errors import ConfigError
from d2lab.job.slurm_requeue import restart_count

if TYPE_CHECKING:
    from lightning import Trainer
    from omegaconf import DictConfig
    from torch import nn

log = logging.getLogger("d2lab")

TEST_CHECKPOINTS = ("best", "last")
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's archive (the default since torch 1.6)
LEGACY_MAGIC = b"\x80\x02\x8a\x0a"  # the older format: a pickle (protocol 2) that opens with torch's magic number
VALID = (
    "A valid ckpt_path is a .ckpt file a d2lab training run wrote (its checkpoints/last.ckpt, best.ckpt or "
    "interrupted.ckpt), or ckpt_path=last for the newest run of this task."
)


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


def newest_resume_point(run_dir: str | Path) -> Path | None:
    """The newest of a run folder's checkpoints/interrupted.ckpt and last.ckpt: where its training resumes."""
    found = [p for p in (Path(run_dir) / "checkpoints").glob("*.ckpt") if p.stem in ("interrupted", "last")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def resume_point(cfg: "DictConfig", task: "nn.Module") -> str | None:
    """Where fit starts from: the command's ckpt_path, or, in a job Slurm requeued, the job's own newest checkpoint
    (newer than any ckpt_path: the job got that far itself). Checked here, so a bad or crafted file is refused
    before fit, not in the middle of it."""
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), cfg.paths.log_dir, cfg.task_name, cfg.paths.output_dir)
    requeued_from = newest_resume_point(cfg.paths.output_dir) if restart_count() > 0 else None
    if requeued_from is not None:
        log.info("Slurm requeued this job (restart %d): resuming from %s", restart_count(), requeued_from)
        ckpt_path = str(requeued_from)
    if ckpt_path:
        check_resumable(ckpt_path, task, cfg)
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


# --- reading: data only, and one paragraph for every way a file can be wrong -------------------------------------
def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint at `path` (a local file), loaded with `weights_only=True`; a file that is not a readable
    Lightning checkpoint, or whose pickle would need to run code, is a ConfigError that says which."""
    checkpoint = _load_data(path, map_location)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        if isinstance(checkpoint, dict):
            keys = ", ".join(map(str, list(checkpoint)[:5])) + (", ..." if len(checkpoint) > 5 else "")
            held = f"a dict with keys {keys}" if checkpoint else "an empty dict"
        else:
            held = f"a {type(checkpoint).__name__}"
        raise ConfigError(
            f"ckpt_path={str(path)!r} is a torch file but not a Lightning checkpoint: it holds {held}, and no "
            f"'state_dict' (the model's weights). {VALID}"
        )
    if not isinstance(checkpoint["state_dict"], Mapping):
        raise ConfigError(
            f"ckpt_path={str(path)!r} is not a Lightning checkpoint: its 'state_dict' is a "
            f"{type(checkpoint['state_dict']).__name__}, not a mapping of names to tensors. {VALID}"
        )
    return checkpoint


def _load_data(path: str | Path, map_location: Any) -> Any:
    """torch.load as data only (plain values and tensors); any failure is a ConfigError that says why."""
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, OSError, KeyError, EOFError... by file kind
        raise ConfigError(_unreadable(str(path), exc)) from exc


def _unreadable(path: str, exc: Exception) -> str:
    """Why torch could not load `path`, told from the file's first bytes and torch's error."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as error:  # e.g. no permission: there are no bytes to tell anything from
        return f"ckpt_path={path!r} cannot be read: {error.strerror or error}. {VALID}"
    message = str(exc)
    if not head:
        return f"ckpt_path={path!r} is an empty file, not a checkpoint. {VALID}"
    # The weights-only unpickler stops at the first thing that is not plain data; a malformed pickle fails on an
    # unknown opcode instead ("Unsupported operand"), which is damage, not code.
    weights_only_refusal = "Weights only load failed" in message and "Unsupported operand" not in message
    if isinstance(exc, pickle.UnpicklingError) and weights_only_refusal:
        wanted = re.search(r"GLOBAL (\S+)", message)
        asks = f"its pickle calls for {wanted.group(1)}" if wanted else "its pickle builds more than plain data"
        return (
            f"ckpt_path={path!r} is refused: it would need to run code to load ({asks}), and d2lab loads "
            "checkpoints as data only (plain values and tensors, torch.load with weights_only=True), so nothing "
            f"in it ran. Only load checkpoints d2lab or Lightning wrote. {VALID}"
        )
    if head.startswith((ZIP_MAGIC, LEGACY_MAGIC)):
        # torch's own words where they say something ("failed finding central directory"), not a bare errno
        said = "" if isinstance(exc, OSError) else message.strip().split(". ")[0].split("\n")[0]
        return (
            f"ckpt_path={path!r} is truncated or corrupt: it starts like a torch checkpoint, but torch cannot read "
            f"it{f' ({said})' if said else ''}. A copy that stopped part way or a full disk does this; copy it "
            f"again, or use another of the run's checkpoints. {VALID}"
        )
    if _is_text(head):
        return f"ckpt_path={path!r} is a text file, not a checkpoint. {VALID}"
    return f"ckpt_path={path!r} is not a torch checkpoint: it is not a file torch.save wrote. {VALID}"


def _is_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # only a character cut at the end of the 4 KiB read
    return True


def check_fits(
    task: "nn.Module",
    state_dict: Mapping[str, Any],
    cfg: "DictConfig",
    ckpt_path: str | None = None,
    resuming: bool = False,
) -> None:
    """Refuse a checkpoint whose tensors do not match the model the config builds, naming each difference."""
    own = task.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [
        f"{k} is {list(state_dict[k].shape)} in the checkpoint but {list(v.shape)} in the model"
        for k, v in own.items()
        if k in state_dict and hasattr(v, "shape") and getattr(state_dict[k], "shape", v.shape) != v.shape
    ]
    problems = shapes + [f"{k} is missing from the checkpoint" for k in missing[:5]]
    problems += [f"the checkpoint has {k}, which the model lacks" for k in unexpected[:5]]
    if problems:
        which = f"ckpt_path={ckpt_path!r}" if ckpt_path else "The checkpoint"
        hint = (
            "Resume with the model and data overrides of the run that wrote it (its .hydra/overrides.yaml), "
            "or leave out ckpt_path to start a new run."
            if resuming
            else "Leave out the model/data overrides so the training run's own config is used, "
            "or evaluate a checkpoint of a run with this config."
        )
        raise ConfigError(
            f"{which} does not fit model {cfg.model._target_.split('.')[-1]} as configured: "
            + "; ".join(problems)
            + f". {hint}"
        )


def check_resumable(ckpt_path: str, task: "nn.Module", cfg: "DictConfig") -> None:
    """Refuse, before fit, a checkpoint that `trainer.fit(ckpt_path=...)` could not resume `task` from: unreadable,
    crafted, weights only, or of another model. Lightning would stop on these too, but with a traceback."""
    checkpoint = read_checkpoint(ckpt_path)
    if "optimizer_states" not in checkpoint or "lr_schedulers" not in checkpoint:  # what Lightning restores
        raise ConfigError(
            f"ckpt_path={ckpt_path!r} holds the model's weights but no optimizer or schedule state (it was saved "
            "with weights only), so training cannot resume from it. Evaluate it with python -m d2lab.eval "
            f"ckpt_path={ckpt_path}, or resume from a run's checkpoints/last.ckpt or interrupted.ckpt."
        )
    check_fits(task, checkpoint["state_dict"], cfg, ckpt_path, resuming=True)


# --- writing: whole or not at all ----------------------------------------------------------------------------------
def _atomic_checkpoint_io() -> type:
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    class AtomicCheckpointIO(TorchCheckpointIO):
        """Writes beside the target, then renames over it (atomic within one folder on POSIX), so a kill during
        saving leaves the previous file intact; loads with `weights_only=True` whatever the caller asks."""

        def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                super().save_checkpoint(checkpoint, tmp, storage_options)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)

        def load_checkpoint(
            self,
            path: str | Path,
            map_location: Callable | Any = lambda storage, loc: storage,
            weights_only: bool | None = None,
        ) -> dict[str, Any]:
            # Lightning passes weights_only=None (torch's default) unless told otherwise; resume and
            # test(ckpt_path=best.ckpt) come through here, so both read data only. Not every file is a full
            # checkpoint (ddp_spawn hands the weights back to the main process as a bare state_dict), so
            # the shape is left to the caller.
            if not Path(path).is_file():
                raise FileNotFoundError(f"Checkpoint file not found: {path}")
            return _load_data(path, map_location)

    AtomicCheckpointIO.__qualname__ = "AtomicCheckpointIO"  # pickled by reference (ddp_spawn) as a module global
    return AtomicCheckpointIO


def __getattr__(name: str) -> Any:
    # AtomicCheckpointIO subclasses a Lightning class, and importing Lightning takes seconds: the class is built
    # when first asked for (Hydra's `_target_`, an import), so `import d2lab.train` and `--help` stay fast.
    if name == "AtomicCheckpointIO":
        globals()[name] = cls = _atomic_checkpoint_io()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
