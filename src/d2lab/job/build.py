"""One way to build a run from a composed config: data, model, task and Trainer, for train and eval alike."""

import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from d2lab.checks.config import check_config
from d2lab.checks.library_errors import explained
from d2lab.job.trackers import check_trackers
from d2lab.jupyter import live_plot_wanted

if TYPE_CHECKING:  # Lightning takes seconds to import: `--help` and config errors should not wait for it
    import lightning as L

    from d2lab.callbacks.history import RunHistory


@dataclass
class Run:
    datamodule: "L.LightningDataModule"
    task: "L.LightningModule"
    trainer: "L.Trainer"
    history: "RunHistory"


def instantiate_all(group: DictConfig | None) -> list:
    """Instantiate every entry of a group such as `callbacks` or `logger`; null entries are skipped."""
    from hydra.utils import instantiate

    return [instantiate(c) for c in (group or {}).values() if c is not None and "_target_" in c]


def cluster_plugins() -> list:
    """Outside a SLURM job (and torchrun), a run is local, even where SLURM's `srun` is installed: d2lab says so
    with Lightning's own LightningEnvironment, and silences Lightning's hint to prepend `srun`, which it would
    print on every run. Inside a job, Lightning detects the environment itself."""
    from lightning.pytorch.plugins.environments import LightningEnvironment, TorchElasticEnvironment

    if shutil.which("srun") and "SLURM_JOB_ID" not in os.environ and not TorchElasticEnvironment.detect():
        warnings.filterwarnings("ignore", message="The `srun` command is available on your system but is not used")
        return [LightningEnvironment()]
    return []


def build_run(
    cfg: DictConfig,
    *,
    loggers: bool = True,
    callbacks: bool = True,
    job_started: float | None = None,
    extra_callbacks: list | tuple = (),
    **trainer_options,
) -> Run:
    """Seed, then instantiate data, model, optimizer, schedule, task and Trainer from `cfg`.

    `loggers`/`callbacks` False builds the Trainer without the configured ones (evaluation). The run's history
    and a progress bar that counts optimizer steps are always added, and inside an Optuna search, its pruning.
    `job_started` (a perf_counter reading) starts the history's first-step clock at a multirun job's start;
    `extra_callbacks` are the caller's own (train's config tree)."""
    import lightning as L
    from hydra.utils import instantiate

    from d2lab.callbacks.history import RunHistory
    from d2lab.callbacks.optuna_pruning import OptunaPruning
    from d2lab.callbacks.spawned_ddp_exit import LeaveProcessGroupTogether
    from d2lab.callbacks.step_progress import StepProgressBar
    from d2lab.job.cuda_check import use_cached_cuda_check_without_gpus
    from d2lab.sweeps.optuna_study import job_trial
    from d2lab.tasks.grouped import GroupedSteps

    check_config(cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    with explained("data", cfg.data):
        datamodule = instantiate(cfg.data)
    with explained("model", cfg.model):
        net = instantiate(cfg.model)
    with explained("optimizer", cfg.optimizer):
        optimizer = instantiate(cfg.optimizer)
    with explained("scheduler", cfg.get("scheduler")):
        scheduler = instantiate(cfg.get("scheduler"))
    with explained("task", cfg.task):
        task = instantiate(cfg.task, net=net, optimizer=optimizer, scheduler=scheduler)
    with explained("logger", cfg.get("logger")):
        if loggers:
            check_trackers(cfg.get("logger"))  # a tracker not installed: how to install it, in one line
        logger_list = instantiate_all(cfg.get("logger")) if loggers else []
    with explained("callbacks", cfg.get("callbacks")):
        callback_list = instantiate_all(cfg.get("callbacks")) if callbacks else []
    history = RunHistory(job_started)
    callback_list += [*extra_callbacks, history]
    if str(cfg.trainer.get("strategy", "")).startswith(("ddp_spawn", "ddp_fork", "ddp_notebook")):
        callback_list.append(LeaveProcessGroupTogether())  # its workers live for one stage each
    if callbacks and live_plot_wanted(cfg.get("live_plot")):  # after the history, whose records it draws
        from d2lab.callbacks.live_plot import LivePlot

        callback_list.append(LivePlot(history, Path(cfg.paths.output_dir) / "live_plot.png"))
    trial = job_trial() if callbacks else None
    if trial is not None:  # a job of an Optuna search reports to its trial, whose pruner may stop it
        callback_list.append(OptunaPruning(trial))
    callback_list.append(GroupedSteps(cfg.get("callbacks") if callbacks else None))  # decides at fit's setup
    if trainer_options.get("enable_progress_bar", cfg.trainer.get("enable_progress_bar", True)):
        callback_list.append(StepProgressBar())
    with explained("trainer", cfg.trainer):
        plugins = [*(instantiate(cfg.trainer.get("plugins")) or []), *cluster_plugins()]
        trainer = instantiate(
            cfg.trainer, callbacks=callback_list, logger=logger_list or False, plugins=plugins, **trainer_options
        )
    use_cached_cuda_check_without_gpus()  # last: a component's import of Lightning would set Lightning's check again
    return Run(datamodule=datamodule, task=task, trainer=trainer, history=history)
