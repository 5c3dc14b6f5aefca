"""d2lab's default sweeper (`hydra/sweeper=grid`): Hydra's basic grid, that resumes when run into its folder.

It expands `a=1,2 b=x,y` into the same jobs, in the same order, as Hydra's basic sweeper (whose class lives
in `hydra._internal`, so it is not extended here). Run into a sweep folder that already holds jobs
(`hydra.sweep.dir=<that folder>`), it skips the jobs already finished (see d2lab/sweeps/state.py), runs the
others again in their own folders from their newest checkpoint, and gives jobs it has not seen before new
numbers after the existing ones, so no folder is overwritten. `hydra.sweeper.resume=false` runs every job
again, numbered after the existing ones.
"""

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from d2lab.errors import ConfigError
from hydra_plugins.d2lab_sweepers.launch_plan import LaunchPlan, interrupted_hint, plan_jobs
from hydra_plugins.d2lab_sweepers.reusing_config_loader import reusing_context

log = logging.getLogger(__name__)


def expand_grid(arguments: list[str], config_loader: Any = None) -> tuple[list[list[str]], dict[str, list[str]]]:
    """Every job's overrides, as Hydra's basic sweeper orders them (the last key varies fastest), and the
    swept keys with their values."""
    columns: dict[str, list[str]] = {}  # a later override of a key replaces it, in the key's first place
    swept: dict[str, list[str]] = {}
    for override in OverridesParser.create(config_loader=config_loader).parse_overrides(arguments):
        key = override.get_key_element()
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise ConfigError(
                    f"{override.input_line!r}: the grid sweeper takes a list (a,b,c), choice() or range(); "
                    "interval() needs a search: hydra/sweeper=optuna."
                )
            values = list(override.sweep_string_iterator())
            columns[key] = [f"{key}={v}" for v in values]
            swept[key] = values
        else:
            columns[key] = [f"{key}={override.get_value_element_as_str()}"]
            swept.pop(key, None)
    return [list(job) for job in itertools.product(*columns.values())], swept


def covering_jobs(jobs: Sequence[Sequence[str]]) -> list[Sequence[str]]:
    """Few jobs (chosen greedily) that between them hold every override of `jobs`: a grid of lr x batch size x
    seed needs as many as its longest list."""
    unseen = {o for job in jobs for o in job}
    chosen = []
    while unseen:
        job = max(jobs, key=lambda job: len(unseen.intersection(job)))
        chosen.append(job)
        unseen.difference_update(job)
    return chosen


class GridSweeper(Sweeper):
    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None, resume: bool = True):
        from d2lab.checks.values import check_whole_number
        from d2lab.errors import ConfigError

        if not isinstance(resume, bool):  # "no" or 0 must not quietly mean resume
            raise ConfigError(f"hydra.sweeper.resume={resume!r} is invalid: use true (skip finished jobs) or false.")
        if max_batch_size is not None:
            check_whole_number("hydra.sweeper.max_batch_size", max_batch_size, hint=", or null for all jobs at once")
        self.max_batch_size = max_batch_size
        self.params = dict(params or {})
        self.resume = resume

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = reusing_context(hydra_context)  # jobs that differ in values share one composition
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=self.hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list[list[JobReturn]]:
        from d2lab.errors import exit_on_user_error

        with exit_on_user_error():  # a bad storage or search space: one paragraph, no traceback
            return self.run_sweep(arguments)

    def run_sweep(self, arguments: list[str]) -> list[list[JobReturn]]:
        from d2lab.sweeps.state import write_sweep_status
        from d2lab.sweeps.tensorboard_hparams import write_sweep_experiment

        # Config params first, so the command line can replace any of them (as Hydra's basic sweeper does).
        params = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        jobs, swept = expand_grid(params, self.hydra_context.config_loader)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        write_sweep_experiment(sweep_dir, self.config, swept)  # TensorBoard's HParams tab opens on `swept`
        plan = plan_jobs(jobs, sweep_dir, self.resume)
        plan.log(log, len(jobs))
        write_sweep_status(sweep_dir, "running", len(jobs))
        try:
            returns = self.launch(plan)
        except (KeyboardInterrupt, SystemExit):
            write_sweep_status(sweep_dir, "interrupted", len(jobs))
            log.warning(interrupted_hint(sweep_dir))
            raise
        write_sweep_status(sweep_dir, "done", len(jobs))
        check_some_job_ran(returns, sweep_dir)
        return returns

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        # The launcher composes each job again; composing beforehand only jobs that hold every override between
        # them still finds an unknown key or a bad value before any job runs.
        super().validate_batch_is_legal(covering_jobs(batch))

    def launch(self, plan: LaunchPlan) -> list[list[JobReturn]]:
        batches = list(plan.batches(self.max_batch_size))
        for _, batch in batches:
            self.validate_batch_is_legal(batch)
        if not batches:  # every job already finished: no workers to start
            return []
        if not hasattr(self.launcher, "submit"):  # basic, joblib, Slurm: one batch after the other
            return [self.launcher.launch(batch, initial_job_idx=num) for num, batch in batches]
        # hydra/launcher=parallel: every job to the same warm workers at once, so that no batch waits for the
        # slowest job of the one before it; the results come back batch by batch, as Hydra's launch returns them.
        self.launcher.start(len(plan.launch))
        try:
            futures = [[self.launcher.submit(num + i, o) for i, o in enumerate(batch)] for num, batch in batches]
            return [[future.result() for future in batch] for batch in futures]
        except KeyboardInterrupt:  # Ctrl-C reached the workers too: each records its job as interrupted
            self.launcher.close(cancel=True)
            raise SystemExit(130) from None
        finally:
            self.launcher.close()


def check_some_job_ran(returns: list[list[JobReturn]], sweep_dir: Path) -> None:
    """A sweep whose every job failed (a bad value in all of them, say) did none of its work: one paragraph, and a
    non-zero exit. A job that diverged or was pruned is a result, not a failure."""
    from d2lab.errors import SweepFailedError
    from d2lab.sweeps.state import first_error, job_status, read_json

    dirs = {
        ret.hydra_cfg.hydra.job.num: Path(ret.hydra_cfg.hydra.runtime.output_dir)
        for batch in returns
        for ret in batch
        if ret.hydra_cfg is not None
    }
    if dirs and all(job_status(read_json(d / "metrics.json")) == "failed" for d in dirs.values()):
        raise SweepFailedError(
            f"All {len(dirs)} jobs this sweep ran failed{first_error(dirs)}; see the job folders in {sweep_dir}."
        )
