"""A thin Optuna sweeper for Hydra: ask Optuna for a batch of trials, launch them, tell it the results.

Why not hydra-optuna-sweeper: its releases (1.2.0 and 1.3.0) pin `optuna<3`, so installing it drags the
project back to Optuna 2.10 (2021). This sweeper keeps its config shape (`sampler`, `direction`,
`n_trials`, `n_jobs`, `study_name`, `storage`, `params` written as Hydra sweep overrides) on Optuna 4/5.

Each trial is an ordinary Hydra job: it composes the configs with its overrides, runs through whatever
launcher is configured (basic or joblib) and writes its own folder. A job that fails or returns NaN
(d2lab records diverged and failed runs that way) is told to Optuna as a FAIL, and the search goes on.
The best trial is logged and written to `optimization_results.yaml` in the sweep folder.
"""

import logging
import math
import os
import shutil
from pathlib import Path
from typing import Any, NamedTuple

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)
DIRECTIONS = {"min": "minimize", "max": "maximize", "minimize": "minimize", "maximize": "maximize"}


def job_value(ret: JobReturn) -> float | None:
    """The trial's objective, or None when the job raised or returned something not finite."""
    try:
        value = float(ret.return_value)
    except Exception as exc:  # the job raised (JobReturn re-raises it here) or returned a non-number
        log.warning("Trial job %s failed: %s", ret.hydra_cfg.hydra.job.num if ret.hydra_cfg else "?", exc)
        return None
    return value if math.isfinite(value) else None


class Trial(NamedTuple):
    params: dict[str, Any]
    args: list[str]
    ret: JobReturn
    value: float | None  # None: failed or diverged


def resolve_n_jobs(n_jobs: int) -> int:
    """joblib's convention: -1 is every CPU, -2 all but one, and so on."""
    return n_jobs if n_jobs > 0 else max((os.cpu_count() or 1) + 1 + n_jobs, 1)


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        sampler: Any = None,
        direction: str = "minimize",
        n_trials: int = 20,
        n_jobs: int = 1,
        study_name: str | None = None,
        storage: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"hydra.sweeper.direction={direction!r}: use one of {sorted(DIRECTIONS)}.")
        self.sampler = sampler
        self.direction = DIRECTIONS[direction]
        self.n_trials = int(n_trials)
        self.n_jobs = resolve_n_jobs(int(n_jobs))
        self.study_name = study_name
        self.storage = storage
        self.params = dict(params or {})

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        import optuna

        from hydra_plugins.d2lab_optuna_sweeper.search_space import parse_search_space, trial_overrides

        # Config params first, so the command line can replace any of them.
        space, fixed = parse_search_space([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        if not space:
            raise ValueError("The Optuna sweeper got no search space: set hydra.sweeper.params.")
        study = optuna.create_study(
            study_name=self.study_name,
            storage=self.storage,
            sampler=self.sampler,
            direction=self.direction,
            load_if_exists=True,
        )
        log.info("Optuna: %s, %d trials, %d at a time", self.direction, self.n_trials, self.n_jobs)
        done: list[Trial] = []
        while len(done) < self.n_trials:
            batch = [study.ask(space) for _ in range(min(self.n_jobs, self.n_trials - len(done)))]
            overrides = [fixed + trial_overrides(t.params) for t in batch]
            self.validate_batch_is_legal(overrides)
            returns = self.launcher.launch(overrides, initial_job_idx=len(done))
            for trial, args, ret in zip(batch, overrides, returns, strict=True):
                value = job_value(ret)
                if value is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, value)
                done.append(Trial(trial.params, args, ret, value))
        self.save_best(done)
        return [t.ret for t in done]

    def save_best(self, done: list[Trial]) -> None:
        """Write optimization_results.yaml (and the best job's full config) into the sweep folder."""
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        ok = [t for t in done if t.value is not None]
        summary: dict[str, Any] = {
            "name": "optuna",
            "direction": self.direction,
            "n_trials": len(done),
            "n_failed": len(done) - len(ok),
        }
        if not ok:
            OmegaConf.save(OmegaConf.create(summary), sweep_dir / "optimization_results.yaml")
            raise RuntimeError(f"All {len(done)} trials failed; see the job folders in {sweep_dir}.")
        best = (min if self.direction == "minimize" else max)(ok, key=lambda t: t.value)
        job_dir = Path(best.ret.hydra_cfg.hydra.runtime.output_dir)
        summary.update(best_value=best.value, best_params=best.params, best_overrides=best.args)
        summary["best_job_dir"] = str(job_dir)
        OmegaConf.save(OmegaConf.create(summary), sweep_dir / "optimization_results.yaml")
        if (job_dir / ".hydra" / "config.yaml").is_file():
            shutil.copy(job_dir / ".hydra" / "config.yaml", sweep_dir / "best_config.yaml")
        log.info(
            "Best of %d trials (%d failed): %s with %s\n  re-run it alone: python -m d2lab.train %s",
            len(done),
            summary["n_failed"],
            best.value,
            best.params,
            " ".join([*best.args, "hydra.mode=RUN"]),  # RUN: the search config stays, the sweep does not
        )
