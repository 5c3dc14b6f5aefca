"""`hydra/launcher=parallel`: a sweep's jobs in `n_jobs` processes on this machine, forked from the sweep's.

Hydra's joblib launcher starts its workers with loky, each a fresh Python that imports torch and Lightning
before its first job: seconds, more than a short job's training. Here the sweep's process imports them once,
with `preload` and the modules of the `_target_`s in the sweep's config, and forks its workers, which so start
with everything imported. A job runs in a worker as it does in joblib's: Hydra composes its config there and
runs it with `run_job`.

The workers stay for the launcher's life: a sweeper that launches in batches (the grid's `max_batch_size`) reuses
them, and one that keeps `n_jobs` jobs running (the Optuna sweeper) hands each job over with `submit` as soon as
a worker is free, with no barrier between batches and no new pool.

Each job's torch gets its share of the cores, cores // n_jobs threads (joblib's rule for loky's workers), unless
OMP_NUM_THREADS, in the environment or in `hydra.job.env_set`, says how many.
"""

import gc
import logging
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

from d2lab.job.imports import import_modules, target_modules

log = logging.getLogger(__name__)

_launcher: "ParallelLauncher | None" = None  # the launching one; the forked workers inherit it, nothing is pickled
_interrupted = False  # a worker whose job saw Ctrl-C starts no other


def cores() -> int:
    import joblib

    return joblib.cpu_count()  # the CPUs this process may use (affinity, cgroup quota), as loky counts them


def job_threads(n_jobs: int, env_set: dict) -> int | None:
    """A job's torch threads: OMP_NUM_THREADS where the user set it, else its share of the cores. None: leave
    torch as it is, which read the environment's OMP_NUM_THREADS when the sweep's process imported it."""
    if "OMP_NUM_THREADS" in env_set:
        return int(env_set["OMP_NUM_THREADS"])
    if "OMP_NUM_THREADS" in os.environ:
        return None
    return max(cores() // n_jobs, 1)


def run_forked(idx: int, overrides: list[str], n_jobs: int) -> JobReturn:
    """One job in a forked worker."""
    global _interrupted
    if _interrupted:
        raise KeyboardInterrupt
    import torch

    launcher = _launcher
    setup_globals()
    config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, overrides)
    with open_dict(config):
        config.hydra.job.id = f"{config.hydra.job.name}_{idx}"
        config.hydra.job.num = idx
    HydraConfig.instance().set_config(config)
    threads = job_threads(n_jobs, dict(config.hydra.job.env_set))
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)  # also for any process the job starts (ddp_spawn)
        torch.set_num_threads(threads)
    try:
        return run_job(
            hydra_context=launcher.hydra_context,
            task_function=launcher.task_function,
            config=config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    except (KeyboardInterrupt, SystemExit):
        _interrupted = True
        raise


class ParallelLauncher(Launcher):
    def __init__(self, n_jobs: int = -1, preload: Sequence[str] = ()) -> None:
        from d2lab.errors import ConfigError

        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
            raise ConfigError(f"hydra.launcher.n_jobs={n_jobs!r} is invalid: a whole number of jobs at once, or -1 "
                              "for one per core.")  # fmt: skip
        self.n_jobs = n_jobs
        self.preload = list(preload)
        self.pool: ProcessPoolExecutor | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def jobs_at_once(self) -> int:
        return self.n_jobs if self.n_jobs > 0 else max(cores() + 1 + self.n_jobs, 1)  # joblib's -1, -2, ...

    def start(self, jobs: int) -> None:
        """Fork the workers, at most one per job of `jobs` planned, unless they are running already."""
        from d2lab.errors import ConfigError

        global _launcher
        if self.pool is not None:
            return
        if "fork" not in multiprocessing.get_all_start_methods():
            raise ConfigError("hydra/launcher=parallel forks its workers, which this system cannot do: use "
                              "hydra/launcher=joblib.")  # fmt: skip
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        import_modules([*self.preload, *target_modules(self.config)], freeze=True)
        if "torch" in sys.modules and sys.modules["torch"].cuda.is_initialized():
            raise ConfigError("CUDA is initialized in the sweep's process, so workers forked from it cannot use the "
                              "GPU: run the sweep with hydra/launcher=joblib.")  # fmt: skip
        _launcher = self
        # Python's recipe for forked workers (gc.freeze): what lives now is moved out of the collector's sight,
        # so the workers' collections (and this process's exit) do not walk torch's and Lightning's objects. The
        # imports froze theirs already; this takes what the sweep made since.
        gc.freeze()
        workers = min(self.jobs_at_once(), jobs)
        log.info(f"Starting {workers} worker processes forked from this one, into {self.config.hydra.sweep.dir}")
        # With fork, the executor starts every worker at the first submit: all of them once, from this state.
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))

    def submit(self, idx: int, overrides: Sequence[str]) -> Future:
        """Job number `idx` to the next free worker; its future gives the JobReturn. Call `start` first."""
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        return self.pool.submit(run_forked, idx, list(overrides), self.jobs_at_once())

    def close(self, cancel: bool = False) -> None:
        """Stop the workers (after Ctrl-C: `cancel`, so queued jobs do not start)."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=cancel)
            self.pool = None

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        self.start(len(job_overrides))
        futures = [self.submit(initial_job_idx + idx, overrides) for idx, overrides in enumerate(job_overrides)]
        try:
            return [future.result() for future in futures]
        except KeyboardInterrupt:  # Ctrl-C reached the workers too: each records its job as interrupted
            self.close(cancel=True)
            raise SystemExit(130) from None
