"""Jobs run side by side on one machine: d2lab's parallel launcher (workers forked from the sweep's process) and
Hydra's joblib launcher give each job's torch its share of the cores, unless OMP_NUM_THREADS says otherwise."""

from pathlib import Path

import joblib
import pytest

from d2lab.errors import ConfigError
from hydra_plugins.d2lab_launchers.parallel_launcher import ParallelLauncher, job_threads
from hydra_plugins.d2lab_sweepers.grid_sweeper import covering_jobs, expand_grid
from tests.conftest import read_metrics, run_cli

REPO = Path(__file__).resolve().parents[1]
# batch size 0 is a config error: those jobs fail, in their workers, and the sweep goes on
GRID = ["data=airfoil", "trainer.max_epochs=1", "logger=csv", "seed=0,1", "data.batch_size=100,0"]


def sweep(folder: Path, launcher: str, n_jobs: int = 2) -> dict[int, dict]:
    result = run_cli("-m", "d2lab.train", "-m", *GRID, f"hydra/launcher={launcher}", f"hydra.launcher.n_jobs={n_jobs}",
                     f"hydra.sweep.dir={folder}", cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return {job: read_metrics(folder / str(job)) for job in range(4)}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["parallel", "joblib"])
def test_each_of_two_jobs_at_once_gets_half_the_cores(tmp_path, monkeypatch, launcher):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    jobs = sweep(tmp_path, launcher)
    assert [m["status"] for m in jobs.values()] == ["ok", "failed", "ok", "failed"]
    assert "data.batch_size=0" in jobs[1]["error"]
    assert [jobs[n]["torch_threads"] for n in (0, 2)] == [max(joblib.cpu_count() // 2, 1)] * 2


@pytest.mark.slow
def test_omp_num_threads_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # one job at a time would get every core
    jobs = sweep(tmp_path, "parallel", n_jobs=1)
    assert [jobs[n]["torch_threads"] for n in (0, 2)] == [1, 1]


def test_a_jobs_threads_are_its_share_unless_omp_num_threads_says(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert job_threads(2, {}) == max(joblib.cpu_count() // 2, 1)
    assert job_threads(10**6, {}) == 1
    assert job_threads(2, {"OMP_NUM_THREADS": "5"}) == 5  # hydra.job.env_set
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert job_threads(2, {}) is None  # torch already took it, in the sweep's process


@pytest.mark.parametrize("n_jobs", [0, True, 1.5, "2"])
def test_n_jobs_must_be_a_whole_number_of_jobs(n_jobs):
    with pytest.raises(ConfigError, match="hydra.launcher.n_jobs"):
        ParallelLauncher(n_jobs=n_jobs)


def test_the_grid_is_validated_on_jobs_that_hold_every_override():
    jobs, _ = expand_grid(["data=airfoil", "optimizer.lr=0.01,0.03,0.1", "data.batch_size=10,100", "seed=0,1"])
    chosen = covering_jobs(jobs)
    assert len(jobs) == 12 and len(chosen) == 3
    assert {o for job in chosen for o in job} == {o for job in jobs for o in job}
