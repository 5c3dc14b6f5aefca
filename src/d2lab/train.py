"""Hydra entry point for training: compose, seed, instantiate, fit, test, write metrics.json, return the metric.

python -m d2lab.train                                   # the book's linear regression
python -m d2lab.train -m data=airfoil optimizer.lr=0.005,0.05 data.batch_size=1,10
"""

import logging
import os
import statistics
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

import d2lab.resolvers  # noqa: F401  (registers ${len:...})
from d2lab.checks.library_errors import refused_by_lightning
from d2lab.checks.values import check_choice
from d2lab.job.build import build_run
from d2lab.job.checkpoints import TEST_CHECKPOINTS, check_resumable, checkpoint_to_test, resolve_ckpt_path
from d2lab.job.imports import import_for_run
from d2lab.job.provenance import device_name, provenance
from d2lab.job.record import freeze_what_outlives_the_job, guarded_run, is_multirun, quiet_lightning
from d2lab.job.slurm_requeue import in_slurm_job, requeued_resume_point, restart_count
from d2lab.job.trackers import finish_wandb_run
from d2lab.paths import config_dir

log = logging.getLogger("d2lab")


def flat_hparams(cfg: DictConfig) -> dict[str, object]:
    """The run's config as flat `a.b.c` keys, the shape TensorBoard's HParams tab wants."""
    flat: dict[str, object] = {}

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node if isinstance(node, int | float | str | bool) else str(node)

    for key in cfg:
        if key not in ("paths", "hydra"):
            walk(
                OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) else cfg[key], f"{key}."
            )
    return flat


def log_to_trackers(cfg: DictConfig, trainer, monitor: str, summary: dict) -> None:
    """The run's compared hyperparameters, and the final numbers that have no curve (its clocks), into every
    logger; TensorBoard also gets the run's HParams session (sweeps/tensorboard_hparams.py)."""
    from hydra.core.hydra_config import HydraConfig
    from lightning.pytorch.loggers import TensorBoardLogger

    from d2lab.sweeps.tensorboard_hparams import compared_hparams, log_run_hparams, session_group

    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    overrides = list(hydra_cfg.overrides.task) if hydra_cfg else []
    params = compared_hparams(cfg, overrides, dict(hydra_cfg.runtime.choices) if hydra_cfg else {})
    clocks = {k: v for k, v in summary.items() if k.startswith("time/") and isinstance(v, float)}
    for logger in trainer.loggers:
        logger.log_hyperparams(params)
        logger.log_metrics(clocks, step=trainer.global_step)
        if isinstance(logger, TensorBoardLogger):
            log_run_hparams(logger, params, session_group(overrides), monitor, in_sweep=is_multirun())
        logger.finalize("success")  # flush now: the trainer closed its writers before this


def early_stop(trainer) -> dict:
    """With callbacks=early_stopping: whether Lightning's EarlyStopping ended the fit, and at which epoch."""
    stopper = trainer.early_stopping_callback
    if stopper is None:
        return {}
    if stopper.stopped_epoch > 0:
        log.info("Early stopping at epoch %d: %s did not improve for %d validations",
                 stopper.stopped_epoch, stopper.monitor, stopper.patience)  # fmt: skip
        return {"stopped_early": True, "stopped_epoch": stopper.stopped_epoch}
    return {"stopped_early": False}


def train(cfg: DictConfig, record: dict) -> dict:
    """Build everything from `cfg`, fit and test; `record` gets the history as it grows."""
    import_for_run(cfg)
    import torch

    from d2lab.callbacks.print_config import PrintConfig

    job_started = time.perf_counter()
    check_choice("test_ckpt", cfg.get("test_ckpt", "best"), TEST_CHECKPOINTS)  # before fit, so no run is lost
    quiet_lightning()
    quiet = {"enable_progress_bar": False} if is_multirun() else {}  # one bar per job is noise in a sweep
    shown = not is_multirun() and cfg.get("print_config", True) is True  # any other value: check_config explains
    run = build_run(
        cfg,
        job_started=job_started if is_multirun() else None,
        extra_callbacks=[PrintConfig(cfg, cfg.paths.output_dir)] if shown else [],
        **quiet,
    )
    datamodule, task, trainer, history = run.datamodule, run.task, run.trainer, run.history.records
    record.update(monitor=task.monitor, mode=task.mode, history=history)
    record.setdefault("provenance", provenance())["device"] = device_name(trainer.strategy.root_device)
    if in_slurm_job():  # which Slurm job ran it, and how often Slurm requeued it
        record.update(slurm_job_id=os.environ["SLURM_JOB_ID"], slurm_restarts=restart_count())

    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), cfg.paths.log_dir, cfg.task_name, cfg.paths.output_dir)
    requeued_from = requeued_resume_point(cfg.paths.output_dir)
    if requeued_from is not None:  # newer than any ckpt_path the command named: this job got that far itself
        log.info("Slurm requeued this job (restart %d): resuming from %s", restart_count(), requeued_from)
        ckpt_path = str(requeued_from)
    if ckpt_path:
        check_resumable(ckpt_path, task, cfg)  # a bad or crafted file is refused here, not mid-fit
    record["checkpoints"] = str(Path(cfg.paths.output_dir) / "checkpoints")
    if cfg.get("train", True):
        with refused_by_lightning(cfg.trainer):
            trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path)
    stopped = early_stop(trainer)  # before the test, which restores the callbacks' state from its checkpoint
    if cfg.get("test", True):
        tested = checkpoint_to_test(cfg.get("test_ckpt", "best"), trainer)
        record["test_ckpt"] = tested or "last"
        with refused_by_lightning(cfg.trainer):
            trainer.test(task, datamodule=datamodule, ckpt_path=tested, verbose=False)

    record.pop("history")  # re-added last, so metrics.json reads summary first
    # callback_metrics also come back from ddp_spawn workers, where the history stays behind
    summary: dict = {k: float(v) for k, v in trainer.callback_metrics.items() if "/" in k and v.numel() == 1}
    summary.update(best=task.best if task.best is not None else summary.get(f"{task.monitor}_best"))
    summary["epochs"] = history[-1]["epoch"] + 1 if history else trainer.current_epoch
    if history:  # ddp_spawn leaves the history, and the workers' global_step, in the workers
        summary["steps"] = history[-1]["step"]
    if run.history.first_step_s is not None:
        summary["time/first_step_s"] = run.history.first_step_s
    if history:
        last = history[-1]
        summary.update({k: v for k, v in last.items() if "/" in k})
        epoch_seconds = [h["epoch_s"] for h in history if "epoch_s" in h]
        if epoch_seconds:
            summary["time/epoch_s"] = statistics.median(epoch_seconds)
        summary["time/fit_s"] = last["time_s"]
    summary.update(task.test_results)
    summary.update(getattr(task, "fit_report", {}))
    summary.update(stopped)
    summary["torch_threads"] = torch.get_num_threads()  # a launcher that runs jobs side by side shares the cores
    if trainer.world_size > 1:  # DDP: how many processes, and how they talked (Lightning or Slurm set the ranks)
        summary.update(world_size=trainer.world_size, distributed_backend=trainer.strategy.process_group_backend)
    log_to_trackers(cfg, trainer, task.monitor, summary)
    summary["history"] = history
    return summary


def run_job(cfg: DictConfig) -> float:
    """One job, as the command line and d2lab.run both run it: metrics.json whatever happens."""
    try:
        return guarded_run(cfg, lambda record: train(cfg, record))
    finally:
        finish_wandb_run()  # after the job's last logging, so that the next job of a sweep starts its own
        freeze_what_outlives_the_job()


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> float:
    return run_job(cfg)


if __name__ == "__main__":
    main()
