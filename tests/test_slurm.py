"""Sweeps, DDP, preemption and a shared search through a real Slurm cluster on 127.0.0.1 (scripts/slurm_local.sh), by
Hydra's submitit launcher, as a user on a cluster runs them."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, read_metrics, run_cli, this_test_process

# Every test here runs in the one test process that started the cluster (--dist loadfile, pyproject.toml).
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster")]

ON_SLURM = ("-m", "d2lab.train", "-m", "hydra/launcher=slurm_cpu")
AIRFOIL = ("data=airfoil", "trainer.max_epochs=2", "~logger")
# Synthetic data, 80 optimizer steps per epoch, deterministic: a resumed run must match bit for bit.
EXACT = ("data.steps_per_call=1", "trainer.max_epochs=3", "trainer.deterministic=true", "~logger")
COMPARED = ("w", "b", "train/loss", "val/loss", "test/loss", "best")


@pytest.fixture(autouse=True)
def callbacks_from_tests_importable(monkeypatch):
    # the jobs load callbacks from tests/; sbatch passes the environment on
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def cluster_starts_this_run() -> list[list[str]]:
    """[run id, worker, pid] of each test process of this pytest run that started the local cluster."""
    record = Path(os.environ["SLURM_CONF"]).parents[1] / "started_by_tests"
    lines = record.read_text().splitlines() if record.is_file() else []
    return [line.split() for line in lines if line.split()[0] == this_test_process()[0]]


@pytest.fixture(autouse=True)
def in_the_process_that_started_the_cluster(slurm_cluster):
    # A second test process here would have found the cluster up and not started it: this fails there.
    starts = cluster_starts_this_run()
    assert [worker for _, worker, _ in starts] in ([], [this_test_process()[1]]), f"cluster started by {starts}"


def test_the_cluster_was_started_once_by_the_process_running_these_tests(slurm_cluster):
    if slurm_cluster["started_by"] is None:  # it was up before this run: then no process of this run started it
        assert cluster_starts_this_run() == []
    else:
        assert cluster_starts_this_run() == [[*this_test_process(), str(os.getpid())]]


def submitit_logs(sweep) -> str:
    return "".join(p.read_text() for p in sorted((sweep / ".submitit").glob("*/*_log.*")))


def test_a_sweep_runs_one_slurm_job_per_job_and_reports_like_a_local_one(tmp_path):
    sweep = tmp_path / "sweep"
    jobs_2_and_3_fail = ("+callbacks.kill._target_=tests.fail_in_job.FailInJob", "+callbacks.kill.job=2",
                         "+callbacks.kill.how=sigkill", "+callbacks.bug._target_=tests.fail_in_job.FailInJob",
                         "+callbacks.bug.job=3")  # fmt: skip
    grid = ("data=airfoil", "trainer.max_epochs=1", "~logger", "optimizer.lr=0.01,0.1", "data.batch_size=10,100")
    result = run_cli(*ON_SLURM, *grid, *jobs_2_and_3_fail, f"hydra.sweep.dir={sweep}", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = [read_metrics(sweep / str(n)) for n in range(4)]
    assert [j["status"] for j in jobs] == ["ok", "ok", "failed", "failed"]  # recorded; the sweep went on
    assert jobs[2]["error"].startswith("Slurm job ") and "ended without a result (state FAILED)" in jobs[2]["error"]
    assert "job 3 crashes here on purpose" in jobs[3]["error"]  # the job's own record, as in a local sweep
    assert len({j["slurm_job_id"] for j in (jobs[0], jobs[1], jobs[3])}) == 3 and jobs[0]["slurm_restarts"] == 0
    script = next((sweep / ".submitit").glob("*/*_submission.sh")).read_text()
    assert "export OMP_NUM_THREADS=1\n" in script  # torch's threads: the job's one CPU, not the node's
    assert jobs[0]["torch_threads"] == jobs[1]["torch_threads"] == 1

    local = tmp_path / "local"
    same = run_cli("-m", "d2lab.train", "-m", *grid[:3], "optimizer.lr=0.01", "data.batch_size=10,100",
                   f"hydra.sweep.dir={local}", cwd=tmp_path, timeout=600)  # fmt: skip
    assert same.returncode == 0, same.stderr[-3000:]
    for n in range(2):  # the numbers the basic launcher gets for the same jobs
        assert jobs[n]["val/loss"] == pytest.approx(read_metrics(local / str(n))["val/loss"], rel=1e-6)

    report = run_cli("-m", "d2lab.report", str(sweep), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    summary = (sweep / "summary.md").read_text()
    assert "job 3 crashes here on purpose" in summary and "ended without a result" in summary


def test_ddp_as_two_slurm_tasks_matches_one_process(tmp_path):
    sweep = tmp_path / "sweep"
    ddp = run_cli(*ON_SLURM, "hydra.launcher.tasks_per_node=2", "trainer=ddp", "trainer.devices=2", *AIRFOIL,
                  f"hydra.sweep.dir={sweep}", cwd=tmp_path, timeout=600)  # fmt: skip
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    logs = submitit_logs(sweep)
    assert "global_rank=0(2)" in logs and "global_rank=1(2)" in logs  # submitit: two Slurm tasks of one job
    assert sorted(p.relative_to(sweep).as_posix() for p in sweep.rglob("metrics.json")) == ["0/metrics.json"]

    single = run_cli("-m", "d2lab.train", *AIRFOIL, f"hydra.run.dir={tmp_path}/single", cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-2000:]
    a, b = read_metrics(sweep / "0"), read_metrics(tmp_path / "single")
    assert a["status"] == "ok" and a["epochs"] == 2
    assert a["world_size"] == 2 and a["distributed_backend"] == "gloo"  # Lightning's SLURMEnvironment set the ranks
    assert a["w"] == pytest.approx(b["w"], abs=1e-5) and a["val/loss"] == pytest.approx(b["val/loss"], abs=1e-6)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("uninterrupted")
    result = run_cli("-m", "d2lab.train", *EXACT, f"hydra.run.dir={folder}/run", cwd=folder)
    assert result.returncode == 0, result.stderr[-2000:]
    return read_metrics(folder / "run")


def test_requeued_jobs_resume_from_their_checkpoints_and_end_bit_for_bit(tmp_path, uninterrupted):
    """Job 0: `scontrol requeue` (SIGTERM, a checkpoint at the batch's end). Job 1: the time-limit signal (USR2),
    on which submitit requeues the job and exits; it resumes from its last step snapshot. Side by side."""
    sweep = tmp_path / "sweep"
    result = run_cli(*ON_SLURM, *EXACT, "callbacks.step_snapshot.every_n_train_steps=5",
                     "+callbacks.requeue._target_=tests.requeue_at.RequeueAt", "+callbacks.requeue.step=103",
                     "+callbacks.requeue.how=requeue,usr2", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
                     timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for num, resumed_from in ((0, "interrupted.ckpt"), (1, "last.ckpt")):
        job = read_metrics(sweep / str(num))
        assert job["status"] == "ok" and job["slurm_restarts"] == 1
        log = (sweep / str(num) / "train.log").read_text()
        assert f"Slurm requeued this job (restart 1): resuming from {sweep}/{num}/checkpoints/{resumed_from}" in log
        assert {k: job[k] for k in COMPARED} == {k: uninterrupted[k] for k in COMPARED}
        assert [(h["train/loss"], h["val/loss"]) for h in job["history"]] == [
            (h["train/loss"], h["val/loss"]) for h in uninterrupted["history"]
        ]


def test_sigterm_outside_slurm_saves_a_checkpoint_to_resume_from(tmp_path, uninterrupted, monkeypatch):
    for name in [n for n in os.environ if n.startswith("SLURM_") and n != "SLURM_CONF"]:
        monkeypatch.delenv(name)  # `make test` inside an allocation: this run is still not a Slurm job
    stopped = run_cli("-m", "d2lab.train", *EXACT, "+callbacks.requeue._target_=tests.requeue_at.RequeueAt",
                      "+callbacks.requeue.step=103", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)  # fmt: skip
    assert stopped.returncode == 143 and "Traceback" not in stopped.stderr
    checkpoint = tmp_path / "run" / "checkpoints" / "interrupted.ckpt"
    assert f"Stopped by SIGTERM (Slurm requeue, preemption, scancel or kill). Resume with the same command plus " \
           f"ckpt_path={checkpoint}" in stopped.stderr  # fmt: skip
    assert read_metrics(tmp_path / "run")["status"] == "interrupted"
    resumed = run_cli("-m", "d2lab.train", *EXACT, f"ckpt_path={checkpoint}", f"hydra.run.dir={tmp_path}/resumed",
                      cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert {k: read_metrics(tmp_path / "resumed")[k] for k in COMPARED} == {k: uninterrupted[k] for k in COMPARED}


def test_three_slurm_jobs_share_one_search_and_complete_exactly_n_trials(tmp_path):
    import optuna
    from optuna.trial import TrialState

    from d2lab.sweeps.optuna_study import open_storage

    journal = tmp_path / "study.journal"
    search = ("hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=9", "trainer.max_epochs=1", "logger=csv",
              "optimizer=sgd", "'optimizer.lr=tag(log, interval(0.001, 0.1))'",
              f"hydra.sweeper.storage={journal}")  # fmt: skip
    ids = []
    for worker in range(3):
        command = f"{sys.executable} -m d2lab.train {' '.join(search)} hydra.sweep.dir={tmp_path}/worker{worker}"
        submitted = subprocess.run(["sbatch", "--parsable", "--cpus-per-task=1", f"--chdir={tmp_path}",
                                    f"--output={tmp_path}/worker{worker}.out", "--wrap", command],
                                   capture_output=True, text=True, check=True)  # fmt: skip
        ids.append(submitted.stdout.strip().split(";")[0])
    deadline = time.monotonic() + 300
    while subprocess.run(["squeue", "-h", "-j", ",".join(ids)], capture_output=True, text=True).stdout.strip():
        assert time.monotonic() < deadline, "the workers did not finish in 5 minutes"
        time.sleep(1)
    states = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "State", "-j", ",".join(ids)], capture_output=True,
                            text=True).stdout.split()  # fmt: skip
    assert states == ["COMPLETED"] * 3, [(tmp_path / f"worker{w}.out").read_text()[-2000:] for w in range(3)]
    trials = optuna.load_study(study_name="airfoil_optuna", storage=open_storage(str(journal), tmp_path)).trials
    assert [t.number for t in trials] == list(range(9)) and all(t.state == TrialState.COMPLETE for t in trials)
    folders = sorted(int(p.name) for p in tmp_path.glob("worker*/[0-9]*"))
    assert folders == list(range(9))  # each trial ran once, in one worker
