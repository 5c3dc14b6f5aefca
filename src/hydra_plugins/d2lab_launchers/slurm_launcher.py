"""Hydra's submitit Slurm launcher, except that a job which dies without a result (killed, out of memory, past
its time limit, its node lost) is recorded as failed and the sweep goes on, as a local job's crash is.

Hydra's own launcher (`hydra/launcher=submitit_slurm`) stops the whole sweep at such a job with a traceback,
while the other jobs go on running on the cluster unwatched, and leaves the job's metrics.json saying
`running`. This one waits for every job, and writes what Slurm said into the dead job's metrics.json.
"""

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import DictConfig, OmegaConf, open_dict

if TYPE_CHECKING:
    from submitit import Job

log = logging.getLogger(__name__)


class RecordingSlurmLauncher(SlurmLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """The parent's launch, which it has no hook into: it collects results inline and raises at the first
        job without one. Executor set-up as the parent's."""
        import submitit  # lazily, as the parent: plugin discovery stays fast

        executor = submitit.AutoExecutor(
            cluster="slurm", folder=self.params["submitit_folder"], slurm_max_num_timeout=self.params["max_num_timeout"]
        )
        shared = set(OmegaConf.structured(BaseQueueConf).keys())  # the rest take submitit's slurm_ prefix
        executor.update_parameters(
            **{
                key if key in shared else f"slurm_{key}": value
                for key, value in self.params.items()
                if key not in ("submitit_folder", "max_num_timeout")
            }
        )
        log.info("Submitit 'slurm' sweep output dir : %s", self.config.hydra.sweep.dir)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        nums = range(initial_job_idx, initial_job_idx + len(job_overrides))
        for num, overrides in zip(nums, job_overrides, strict=True):
            log.info("\t#%d : %s", num, " ".join(filter_overrides(overrides)))
        state = Singleton.get_state()
        jobs = executor.map_array(
            self,
            [list(o) for o in job_overrides],
            ["hydra.sweep.dir"] * len(nums),
            list(nums),
            [f"job_id_for_{n}" for n in nums],
            [state] * len(nums),
        )
        return [self.result(job, list(o), num) for job, o, num in zip(jobs, job_overrides, nums, strict=True)]

    def result(self, job: "Job", overrides: list[str], num: int) -> JobReturn:
        import submitit

        try:
            return job.results()[0]
        except (submitit.core.utils.UncompletedJobError, submitit.core.utils.FailedJobError, RuntimeError) as exc:
            reason = f"Slurm job {job.job_id} ended without a result (state {job.state})"
            log.error("Job %d: %s; recorded as failed, the sweep goes on", num, reason)
            ret = JobReturn(overrides=overrides, status=JobStatus.FAILED)
            ret.return_value = exc
            try:
                ret.hydra_cfg = self.job_hydra_config(overrides, num, job.job_id)
                ret.working_dir = str(ret.hydra_cfg.hydra.runtime.output_dir)
                record_death(Path(ret.working_dir), reason, job.stderr() or "")
            except Exception as unknown:  # the failure stays recorded in the return; the sweep must go on
                log.error("Job %d: its folder could not be found to record it: %s", num, unknown)
            return ret

    def job_hydra_config(self, overrides: list[str], num: int, job_id: str) -> DictConfig:
        """The job's `hydra` node as its process saw it, with its folder (sweep dir / subdir) as run_job makes it."""
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(cfg.hydra):
            cfg.hydra.job.num = num
            cfg.hydra.job.id = job_id
            cfg.hydra.runtime.output_dir = os.path.abspath(Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir))
        return OmegaConf.create({"hydra": cfg.hydra})


def record_death(job_dir: Path, reason: str, stderr: str) -> None:
    """The job's metrics.json says failed, and why, unless the job itself wrote an outcome before it died."""
    from d2lab.job.record import write_metrics
    from d2lab.sweeps.state import read_json

    record = read_json(job_dir / "metrics.json")
    if record.get("status") not in (None, "running"):
        return
    tail = "\n".join(stderr.strip().splitlines()[-5:])
    write_metrics(job_dir, {**record, "status": "failed", "error": f"{reason}. Its last lines:\n{tail}"})
