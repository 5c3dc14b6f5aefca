"""The trackers' side of a d2lab job: its run name in MLflow and W&B, its W&B group in a sweep, its W&B run's end.

Lightning's WandbLogger reuses a W&B run still in progress (`wandb.run`), so each job must finish its own, or the
next job of a sweep in the same process (Hydra's basic launcher, a joblib worker, d2lab.run) would log into it.
It ends in `d2lab.train.run_job`, after the job's last logging, whether the job succeeded or not: a Lightning
callback's `teardown` would be too early (`train.py` logs the run's hyperparameters and clocks after
`trainer.test`, and W&B refuses to log into a finished run) and would miss a job that fails outside fit and test.
"""

import importlib
import sys
from pathlib import Path

from omegaconf import DictConfig

from d2lab.errors import ConfigError


def sweep_group(sweep_dir: str) -> str | None:
    """The W&B group of a multirun's jobs: the sweep folder's name (its stamp, or what hydra.sweep.dir named).
    A single run also resolves hydra.sweep.dir, to a folder that is never made, so it gets no group."""
    from d2lab.job.record import is_multirun

    return Path(sweep_dir).name if is_multirun() else None


def run_label(overrides: str) -> str | None:
    """A run's name in MLflow and W&B: its overrides, as in TensorBoard. A run without any gets the tracker's own
    name (MLflow's SQLite store fails on an empty one: it stores the empty name and its own, and they clash)."""
    from d2lab.sweeps.tensorboard_hparams import run_name

    return run_name(overrides) or None


def finish_wandb_run() -> None:
    """End the job's W&B run, if it had one. wandb is in sys.modules only once a logger has imported it."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()


# The experiment trackers of d2lab's `trackers` extra, by the Lightning logger that needs each (conf/logger/).
TRACKERS = {"MLFlowLogger": "mlflow", "WandbLogger": "wandb"}


def check_trackers(loggers: DictConfig | None) -> None:
    """A logger whose tracker is not installed stops the run before it starts, in one line that says how to
    install it. Importing the tracker is the test that holds however it is missing: Lightning checks mlflow's
    version and module when its logger is built, but only wandb's version, and imports wandb once fit starts."""
    for name, entry in (loggers or {}).items():
        target = str(entry.get("_target_", "")) if isinstance(entry, DictConfig) else ""
        package = TRACKERS.get(target.rsplit(".", 1)[-1])
        if package is None:
            continue
        try:
            importlib.import_module(package)
        except ImportError as exc:
            raise ConfigError(
                f"logger.{name} needs {package}, which is not installed ({exc}). Install the trackers with: "
                "pip install -e '.[trackers]'"
            ) from exc
