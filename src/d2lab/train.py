"""Hydra entry point for training: compose, build, fit, test, summarize into metrics.json, return the metric.

python -m d2lab.train                                   # the book's linear regression
python -m d2lab.train -m data=airfoil optimizer.lr=0.005,0.05 data.batch_size=1,10
"""

import time

import hydra
from omegaconf import DictConfig, OmegaConf

import d2lab.resolvers  # noqa: F401  (registers ${len:...})
from d2lab.checks.chosen_on_test import check_nothing_chosen_on_test_images
from d2lab.checks.library_errors import refused_by_lightning
from d2lab.checks.values import check_choice
from d2lab.job.build import Run, build_run
from d2lab.job.checkpoints import TEST_CHECKPOINTS, checkpoint_to_test, resume_point
from d2lab.job.imports import import_for_run
from d2lab.job.record import freeze_what_outlives_the_job, guarded_run, is_multirun, quiet_lightning, record_run
from d2lab.job.summary import early_stop, summarize
from d2lab.job.trackers import finish_wandb_run
from d2lab.paths import config_dir


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


def build_to_train(cfg: DictConfig) -> Run:
    """build_run as a training job wants it: the user's packages imported, test_ckpt checked before fit (so no
    run is lost to a typo), no progress bar in a sweep, and the config tree printed first in a single run."""
    job_started = time.perf_counter()  # a sweep's job counts its first-step clock from here
    import_for_run(cfg)
    check_choice("test_ckpt", cfg.get("test_ckpt", "best"), TEST_CHECKPOINTS)
    check_nothing_chosen_on_test_images(cfg)
    quiet_lightning()
    if is_multirun():  # one bar per job is noise in a sweep
        return build_run(cfg, job_started=job_started, enable_progress_bar=False)
    from d2lab.callbacks.print_config import PrintConfig

    shown = cfg.get("print_config", True) is True  # any other value: check_config explains
    return build_run(cfg, extra_callbacks=[PrintConfig(cfg, cfg.paths.output_dir)] if shown else [])


def train(cfg: DictConfig, record: dict) -> dict:
    """Build everything from `cfg`, fit and test, and return the summary; `record` keeps what a failure leaves."""
    run = build_to_train(cfg)
    datamodule, task, trainer = run.datamodule, run.task, run.trainer
    record_run(record, run, cfg.paths.output_dir)
    ckpt_path = resume_point(cfg, task)

    if cfg.get("train", True):
        with refused_by_lightning(cfg.trainer):
            trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path)
    stopped = early_stop(trainer)  # before the test, which restores the callbacks' state from its checkpoint

    if cfg.get("test", True):
        tested = checkpoint_to_test(cfg.get("test_ckpt", "best"), trainer)
        record["test_ckpt"] = tested or "last"
        with refused_by_lightning(cfg.trainer):
            trainer.test(task, datamodule=datamodule, ckpt_path=tested, verbose=False)

    summary = summarize(trainer, task, run.history, stopped)
    log_to_trackers(cfg, trainer, task.monitor, summary)
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
