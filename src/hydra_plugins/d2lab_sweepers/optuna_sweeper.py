"""A thin Optuna sweeper for Hydra: ask Optuna for trials, launch them, tell it the results.

Why not hydra-optuna-sweeper: its releases (1.2.0 and 1.3.0) pin `optuna<3`, so installing it drags the
project back to Optuna 2.10 (2021), and its jobs never see their trial, so it cannot prune (hydra#1954).
This sweeper keeps its config shape (`sampler`, `direction`, `n_trials`, `n_jobs`, `study_name`, `storage`,
`params` written as Hydra sweep overrides) on Optuna 4/5, and adds `pruner`.

Each trial is an ordinary Hydra job, numbered with its trial's number: it composes the configs with its
overrides, runs through whatever launcher is configured and writes its own folder. A launcher that returns when a batch
has ended (basic, joblib, Slurm) gets `n_jobs` trials at a time; `hydra/launcher=parallel` keeps `n_jobs` trials
running on warm workers, asking for the next trial as soon as one ends. The
study is kept in a storage the jobs open too (d2lab/sweeps/optuna_study.py): a job reports its monitored metric at
each validation and stops when the pruner says so. The sweeper reads each job's outcome from its
`metrics.json`: ok is told as the value, pruned as PRUNED, failed or diverged as FAIL, and the search goes on.

Run again with the same study (its folder, or the same `storage`), a search continues until the study holds
`n_trials` trials in total. A trial left running by a sweeper that died (Ctrl-C, a killed job) is run again
first, in its own folder, from its newest checkpoint. The best trial is logged and written to
`optimization_results.yaml` in the sweep folder.
"""

import logging
import math
import os
import shutil
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.d2lab_sweepers.reusing_config_loader import reusing_context

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


def resolve_n_jobs(n_jobs: int) -> int:
    """joblib's convention: -1 is every CPU, -2 all but one, and so on."""
    return n_jobs if n_jobs > 0 else max((os.cpu_count() or 1) + 1 + n_jobs, 1)


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        sampler: Any = None,
        pruner: Any = None,
        direction: str = "minimize",
        n_trials: int = 20,
        n_jobs: int = 1,
        study_name: str | None = None,
        storage: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        import optuna

        from d2lab.checks.values import check_whole_number
        from d2lab.errors import ConfigError

        if direction not in DIRECTIONS:
            raise ConfigError(f"hydra.sweeper.direction={direction!r}: use one of {sorted(DIRECTIONS)}.")
        check_whole_number("hydra.sweeper.n_trials", n_trials, hint=" (the trials the study holds in the end)")
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
            raise ConfigError(
                f"hydra.sweeper.n_jobs={n_jobs!r} is invalid: a whole number of trials at once, or -1 for every CPU."
            )
        if not isinstance(pruner, optuna.pruners.BasePruner | None):
            raise ConfigError(
                f"hydra.sweeper.pruner={pruner!r} is not an Optuna pruner: use hydra/sweeper/pruner=none, median, "
                "hyperband or successive_halving."
            )
        if not isinstance(sampler, optuna.samplers.BaseSampler | None):
            raise ConfigError(
                f"hydra.sweeper.sampler={sampler!r} is not an Optuna sampler (e.g. optuna.samplers.TPESampler)."
            )
        if storage is not None and not isinstance(storage, str):
            raise ConfigError(
                f"hydra.sweeper.storage={storage!r}: use a database URL (sqlite:///study.db), a journal file "
                "path, or null."
            )
        self.sampler = sampler
        self.pruner = pruner
        self.direction = DIRECTIONS[direction]
        self.n_trials = n_trials
        self.n_jobs = resolve_n_jobs(n_jobs)
        self.study_name = study_name
        self.storage = storage
        self.params = dict(params or {})

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = reusing_context(hydra_context)  # jobs that differ in values share one composition
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=self.hydra_context, task_function=task_function
        )

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        from d2lab.errors import exit_on_user_error

        with exit_on_user_error():  # a bad storage or search space: one paragraph, no traceback
            return self.run_sweep(arguments)

    def run_sweep(self, arguments: list[str]) -> list[JobReturn]:
        import optuna

        from d2lab.errors import ConfigError
        from d2lab.sweeps.optuna_study import OWNER_ATTR, ask_lock, describe_storage, open_storage
        from d2lab.sweeps.state import owner, write_sweep_status
        from d2lab.sweeps.tensorboard_hparams import write_sweep_experiment
        from hydra_plugins.d2lab_sweepers.launch_plan import interrupted_hint
        from hydra_plugins.d2lab_sweepers.search_space import parse_search_space

        # Config params first, so the command line can replace any of them.
        space, self.fixed = parse_search_space([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        if not space:
            raise ConfigError("The Optuna sweeper got no search space: set hydra.sweeper.params.")
        self.sweep_dir = Path(str(self.config.hydra.sweep.dir))
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, self.sweep_dir / "multirun.yaml")
        try:
            self.opened = open_storage(self.storage, self.sweep_dir)
            study = optuna.create_study(
                study_name=self.study_name,
                storage=self.opened,
                sampler=self.sampler,
                pruner=self.pruner,
                direction=self.direction,
                load_if_exists=True,
            )
        except Exception as exc:  # a database Optuna cannot reach, a journal it cannot write
            raise ConfigError(
                f"hydra.sweeper.storage={self.storage!r}: Optuna cannot open it ({type(exc).__name__}: {exc}). Use a "
                "database URL such as sqlite:///study.db, a journal file path in a writable folder, or null."
            ) from None
        if study.direction.name.lower() != self.direction:
            raise ConfigError(
                f"hydra.sweeper.direction={self.direction}, but study {study.study_name!r} in "
                f"{describe_storage(self.storage, self.sweep_dir)} was made to {study.direction.name.lower()}. "
                "Use another hydra.sweeper.study_name or storage for a search the other way."
            )
        swept = {k: [str(c) for c in d.choices] if hasattr(d, "choices") else None for k, d in space.items()}
        write_sweep_experiment(self.sweep_dir, self.config, swept)  # TensorBoard's HParams tab opens on them
        with ask_lock(self.storage, self.sweep_dir):  # claimed under the lock: no two workers re-run one trial
            stale = self.stale_trials(study)
            for trial in stale:
                self.set_trial_attr(study, trial.number, OWNER_ATTR, owner())
        held = len(self.counted_trials(study))
        log.info(
            "Optuna: %s, %d trials in total, %d at a time; study %r in %s holds %d%s",
            self.direction,
            self.n_trials,
            self.n_jobs,
            study.study_name,
            describe_storage(self.storage, self.sweep_dir),
            held,
            f", {len(stale)} left running by a sweeper that stopped: running them again" if stale else "",
        )
        facts = {"study_name": study.study_name, "storage": self.storage}  # for the report's study plots
        write_sweep_status(self.sweep_dir, "running", self.n_trials, **facts)
        try:
            if hasattr(self.launcher, "submit"):  # hydra/launcher=parallel: a new trial as soon as one ends
                returns = self.run_async(study, space, stale)
            else:
                returns = self.run_batches(study, space, stale)
        except (KeyboardInterrupt, SystemExit):
            write_sweep_status(self.sweep_dir, "interrupted", self.n_trials, **facts)
            log.warning(interrupted_hint(self.sweep_dir))
            raise
        write_sweep_status(self.sweep_dir, "done", self.n_trials, **facts)
        self.save_best(study)
        return returns

    def next_trials(self, study: Any, space: dict, stale: list, slots: int) -> list:
        """Up to `slots` trials to run next: stale ones first, then new ones while the study has room."""
        from d2lab.sweeps.optuna_study import ask_lock

        trials, stale[:] = stale[:slots], stale[slots:]
        with ask_lock(self.storage, self.sweep_dir):  # workers sharing the study count to one total
            room = max(self.n_trials - len(self.counted_trials(study)), 0)
            trials += [self.ask(study, space) for _ in range(min(slots - len(trials), room))]
        return trials

    def run_batches(self, study: Any, space: dict, stale: list) -> list[JobReturn]:
        """n_jobs trials at a time, through a launcher that returns when the whole batch has ended."""
        returns: list[JobReturn] = []
        while batch := self.next_trials(study, space, stale, self.n_jobs):  # empty: other workers took the rest
            returns += self.launch(study, batch)
        return returns

    def run_async(self, study: Any, space: dict, stale: list) -> list[JobReturn]:
        """Keep n_jobs trials running on the launcher's warm workers: each ended trial is told to the study, and
        the next one asked for, while the others go on."""
        from concurrent.futures import FIRST_COMPLETED, wait

        returns: list[JobReturn] = []
        running: dict = {}  # future -> trial number
        try:
            while True:
                for trial in self.next_trials(study, space, stale, self.n_jobs - len(running)):
                    overrides = self.overrides(trial)
                    if not returns and not running:  # the first trial composes here: a bad override stops it all
                        self.validate_batch_is_legal([overrides])
                        self.launcher.start(self.n_jobs)  # forked once, and only if the study has a trial to run
                    running[self.launcher.submit(trial.number, overrides)] = trial.number
                if not running:
                    return returns
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=running.get):
                    returns.append(self.tell(study, running.pop(future), future.result()))
        except KeyboardInterrupt:  # Ctrl-C reached the workers too: each records its job as interrupted
            self.launcher.close(cancel=True)
            raise SystemExit(130) from None
        finally:
            self.launcher.close()

    @staticmethod
    def counted_trials(study: Any) -> list:
        """The trials that count toward n_trials: every one asked for, waiting (enqueued) ones not yet."""
        from optuna.trial import TrialState

        return [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]

    @staticmethod
    def stale_trials(study: Any) -> list:
        """Trials still RUNNING whose sweeper process is gone; a live sweeper's trials are left to it."""
        from optuna.trial import TrialState

        from d2lab.sweeps.optuna_study import OWNER_ATTR
        from d2lab.sweeps.state import is_alive

        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        return [t for t in running if not is_alive(t.user_attrs.get(OWNER_ATTR, {}))]

    def ask(self, study: Any, space: dict) -> Any:
        from d2lab.sweeps.optuna_study import JOB_DIR_ATTR, OWNER_ATTR
        from d2lab.sweeps.state import owner

        trial = study.ask(space)
        trial.set_user_attr(OWNER_ATTR, owner())
        trial.set_user_attr(JOB_DIR_ATTR, str(self.sweep_dir / str(trial.number)))
        return trial

    def overrides(self, trial: Any) -> list[str]:
        """The trial's job: the fixed overrides and its parameters, resumed from the checkpoint it left."""
        from d2lab.sweeps.optuna_study import JOB_DIR_ATTR
        from d2lab.sweeps.state import JobFolder, resume_overrides
        from hydra_plugins.d2lab_sweepers.search_space import trial_overrides

        overrides = self.fixed + trial_overrides(trial.params)
        job_dir = trial.user_attrs.get(JOB_DIR_ATTR)  # only a stale trial's folder can hold a checkpoint
        return resume_overrides(JobFolder(trial.number, Path(job_dir), overrides, {})) if job_dir else overrides

    def launch(self, study: Any, trials: list) -> list[JobReturn]:
        from hydra_plugins.d2lab_sweepers.launch_plan import LaunchPlan

        plan = LaunchPlan(launch=sorted((t.number, self.overrides(t)) for t in trials))
        returns = []
        for first, batch in plan.batches(None):
            self.validate_batch_is_legal(batch)
            for offset, ret in enumerate(self.launcher.launch(batch, initial_job_idx=first)):
                returns.append(self.tell(study, first + offset, ret))
        return returns

    def tell(self, study: Any, number: int, ret: JobReturn) -> JobReturn:
        """Trial `number`'s outcome, read from its job's metrics.json, to the study."""
        from optuna.trial import TrialState

        from d2lab.sweeps.optuna_study import JOB_DIR_ATTR
        from d2lab.sweeps.state import read_json

        job_dir = Path(ret.hydra_cfg.hydra.runtime.output_dir) if ret.hydra_cfg else None
        if job_dir is not None:
            self.set_trial_attr(study, number, JOB_DIR_ATTR, str(job_dir))
        status = read_json(job_dir / "metrics.json").get("status") if job_dir else None
        value = job_value(ret)
        if status == "pruned":
            study.tell(number, state=TrialState.PRUNED)
        elif value is None:
            study.tell(number, state=TrialState.FAIL)
        else:
            study.tell(number, value)
        return ret

    def set_trial_attr(self, study: Any, number: int, key: str, value: Any) -> None:
        """A user attr on a trial known by its number (Study itself only sets them through a live Trial)."""
        study_id = self.opened.get_study_id_from_name(study.study_name)
        trial_id = self.opened.get_trial_id_from_study_id_trial_number(study_id, number)
        self.opened.set_trial_user_attr(trial_id, key, value)

    def save_best(self, study: Any) -> None:
        """Write optimization_results.yaml (and the best job's full config) into the sweep folder."""
        from optuna.trial import TrialState

        from d2lab.errors import SweepFailedError
        from d2lab.sweeps.optuna_study import JOB_DIR_ATTR, describe_storage
        from d2lab.sweeps.state import first_error
        from hydra_plugins.d2lab_sweepers.search_space import trial_overrides

        trials = self.counted_trials(study)
        states = [t.state for t in trials]
        summary: dict[str, Any] = {
            "name": "optuna",
            "study_name": study.study_name,
            "storage": describe_storage(self.storage, self.sweep_dir),
            "direction": self.direction,
            "n_trials": len(trials),
            "n_complete": states.count(TrialState.COMPLETE),
            "n_pruned": states.count(TrialState.PRUNED),
            "n_failed": states.count(TrialState.FAIL),
        }
        results = self.sweep_dir / "optimization_results.yaml"
        if not summary["n_complete"]:
            OmegaConf.save(OmegaConf.create(summary), results)
            dirs = {t.number: Path(t.user_attrs[JOB_DIR_ATTR]) for t in trials if JOB_DIR_ATTR in t.user_attrs}
            raise SweepFailedError(
                f"None of the {len(trials)} trials completed ({summary['n_failed']} failed, {summary['n_pruned']} "
                f"pruned){first_error(dirs, 'trial')}; see the job folders in {self.sweep_dir}."
            )
        best = study.best_trial
        args = self.fixed + trial_overrides(best.params)
        job_dir = Path(best.user_attrs.get(JOB_DIR_ATTR, self.sweep_dir / str(best.number)))
        summary.update(best_value=best.value, best_params=best.params, best_overrides=args, best_trial=best.number)
        summary["best_job_dir"] = str(job_dir)
        OmegaConf.save(OmegaConf.create(summary), results)
        if (job_dir / ".hydra" / "config.yaml").is_file():
            shutil.copy(job_dir / ".hydra" / "config.yaml", self.sweep_dir / "best_config.yaml")
        log.info(
            "Best of %d trials (%d pruned, %d failed): %s with %s\n  re-run it alone: python -m d2lab.train %s",
            len(trials),
            summary["n_pruned"],
            summary["n_failed"],
            best.value,
            best.params,
            " ".join([*args, "hydra.mode=RUN"]),  # RUN: the search config stays, the sweep does not
        )
