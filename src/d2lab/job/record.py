"""Run a job body, and whatever happens write `metrics.json` into the run's folder.

A failed or diverged job inside a multirun is recorded and returns NaN (which Optuna counts as a failed
trial), so the sweep goes on. A single run prints one clear paragraph and exits non-zero instead.
"""

import gc
import json
import logging
import math
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from d2lab.errors import D2LabError, DivergedError, TrialPruned, find_user_error
from d2lab.job.checkpoints import newest_resume_point
from d2lab.job.provenance import device_name, provenance
from d2lab.job.slurm_requeue import in_slurm_job, slurm_facts
from d2lab.sweeps.state import owner

if TYPE_CHECKING:
    from d2lab.job.build import Run

log = logging.getLogger("d2lab")

# Set by d2lab.run: a single run's failure comes back to the Python caller as an exception (a notebook's kernel
# must not exit), and a diverged run as its result; the command line prints a paragraph and exits instead.
from_python: ContextVar[bool] = ContextVar("from_python", default=False)


def is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def quiet_lightning() -> None:
    """Lightning sets its loggers to INFO on import (after Hydra configured logging): GPU/TPU lines, tips.
    Some of its warnings say nothing about d2lab runs: a torch deprecation inside Lightning, "few workers",
    which in-memory batches never need, and "fewer training batches than the logging interval": d2lab logs its
    metrics at each validation and `train/loss_step` every log_every_n_steps optimizer steps, across epochs."""
    import lightning.pytorch  # noqa: F401  (its import sets the level: quieted after it, not before)

    warnings.filterwarnings(
        "ignore", message=".*(LeafSpec|does not have many workers|is smaller than the logging interval).*"
    )
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


def freeze_what_outlives_the_job() -> None:
    """What outlives a run (torch, Lightning, their registries) lives as long as the process: frozen, it is not
    walked again by the collector in the next job of a sweep, nor at the process's exit. Not in a notebook's
    kernel, where the user's objects (and a failed run's, held by its traceback) would never be collected."""
    if not from_python.get():
        gc.collect()
        gc.freeze()


def is_rank_zero() -> bool:
    """DDP ranks (launched by Lightning, or as Slurm tasks) share the run's folder; only rank 0 writes
    metrics.json. Lightning's children say their rank in RANK/LOCAL_RANK, Slurm's tasks in SLURM_PROCID."""
    rank = os.environ.get("RANK", os.environ.get("LOCAL_RANK", os.environ.get("SLURM_PROCID", "0")))
    return int(rank) == 0


def record_run(record: dict, run: "Run", output_dir: str) -> None:
    """What a built run adds to its record, kept if it fails: what it monitors, what it validates on (`test`: its
    val/ scores are the test images'), its history (the RunHistory, read when metrics.json is written), the device
    it trains on, its Slurm job, and its checkpoints' folder."""
    record.update(monitor=run.task.monitor, mode=run.task.mode, history=run.history)
    validate_on = getattr(run.datamodule, "validate_on", None)
    if validate_on is not None:
        record["validate_on"] = validate_on
    record.setdefault("provenance", provenance())["device"] = device_name(run.trainer.strategy.root_device)
    record.update(slurm_facts())
    record["checkpoints"] = str(Path(output_dir) / "checkpoints")


def as_written(record: dict) -> dict:
    """metrics.json's layout, whatever the end: the facts and the summary first, the history last, as a list (a
    run's RunHistory is read for its records now; the playground keeps a list)."""
    laid_out = {k: v for k, v in record.items() if k != "history"}
    if "history" in record:
        laid_out["history"] = getattr(record["history"], "records", record["history"])
    return laid_out


def write_metrics(out_dir: str | Path, record: dict) -> Path:
    path = Path(out_dir) / "metrics.json"
    if not is_rank_zero():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(as_written(record), indent=2, default=float) + "\n")
    tmp.replace(path)
    return path


def is_sigterm(exc: BaseException) -> bool:
    """Lightning's SIGTERMException. Looked up, not imported: a run that fails before Lightning is imported
    should not wait seconds for it, and cannot have raised it."""
    exceptions = sys.modules.get("lightning.pytorch.utilities.exceptions")
    return exceptions is not None and isinstance(exc, exceptions.SIGTERMException)


def guarded_run(cfg: DictConfig, body: Callable[[dict], dict]) -> float:
    """`body(record)` fills `record` as it goes (so a failure keeps what was learned) and returns the rest."""
    record: dict = {"status": "running", "provenance": provenance()}
    write_metrics(cfg.paths.output_dir, {**record, **owner()})  # a reader can tell this job at work from one that died
    try:
        record.update(body(record))
        record["status"] = "ok"
    except (KeyboardInterrupt, SystemExit) as exc:
        # Lightning turns Ctrl-C into SystemExit(1), and SIGTERM into SIGTERMException (a SystemExit without a
        # code), after SaveOnInterrupt wrote its checkpoint. Submitit exits with -1 once it has requeued a job.
        sigterm = is_sigterm(exc)
        code = exc.code if isinstance(exc, SystemExit) else 1
        if code in (0, None) and not sigterm:
            raise
        checkpoint = newest_resume_point(cfg.paths.output_dir)
        if in_slurm_job():
            resume = f" If Slurm requeues the job, it resumes from {checkpoint}."
        elif is_multirun():  # a sweep run again into its folder resumes its jobs itself
            resume = f" The sweep, run again into its folder, resumes it from {checkpoint}."
        else:
            again = "d2lab.run call" if from_python.get() else "command"
            resume = f" Resume with the same {again} plus ckpt_path={checkpoint}"
        if sigterm:
            why = "Stopped by SIGTERM (Slurm requeue, preemption, scancel or kill)."
        elif code == 1:
            why = "Interrupted (Ctrl-C)."
        else:
            why = f"Exited with status {code}."
        stopped = sigterm or code == 1 or in_slurm_job()  # else some code called sys.exit: a failure
        record.update(status="interrupted" if stopped else "failed", error=why + (resume if checkpoint else ""))
        write_metrics(cfg.paths.output_dir, record)
        if from_python.get():
            raise (KeyboardInterrupt(record["error"]) if stopped else D2LabError(record["error"])) from None
        print(f"\nd2lab: {record['error']}", file=sys.stderr)
        if not sigterm and code != 1:
            raise
        raise SystemExit(128 + signal.SIGTERM if sigterm else 130) from None
    except TrialPruned as exc:  # a search's result: recorded, and the search tells Optuna it was pruned
        record.update(status="pruned", error=str(exc), pruned_step=exc.step, pruned_validation=exc.validation)
        record["pruned_value"] = exc.value
        write_metrics(cfg.paths.output_dir, record)
        log.info("%s (job recorded as pruned)", exc)
        return math.nan
    except Exception as exc:
        user_error = find_user_error(exc)
        record["status"] = "diverged" if isinstance(user_error, DivergedError) else "failed"
        record["error"] = str(user_error) if user_error else f"{type(exc).__name__}: {exc}"
        if isinstance(user_error, DivergedError):
            record["diverged_epoch"] = user_error.epoch
        write_metrics(cfg.paths.output_dir, record)
        if user_error is None:
            log.error("Run failed:\n%s", "".join(traceback.format_exception(exc)))
        if is_multirun():
            log.error("%s (job recorded as %s; the sweep goes on)", record["error"], record["status"])
            return math.nan
        if user_error is None:
            raise
        if from_python.get():
            if isinstance(user_error, DivergedError):
                log.error("%s (run recorded as diverged)", user_error)
                return math.nan
            raise user_error.with_traceback(None) from None
        if os.environ.get("HYDRA_FULL_ERROR") == "1":  # the library errors behind the paragraph, for a bug report
            traceback.print_exception(exc)
        print(f"\nd2lab: {record['status']}: {user_error}", file=sys.stderr)
        raise SystemExit(1) from None
    path = write_metrics(cfg.paths.output_dir, record)
    best = record.get("best")
    monitored = f"{record['monitor']} = {best} (best), " if best is not None else ""
    log.info("ok: %smetrics in %s", monitored, path)
    return math.nan if best is None else float(best)
