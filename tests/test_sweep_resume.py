"""A sweep run into its folder again runs only what is unfinished, and ends as an uninterrupted sweep does."""

import json
from pathlib import Path

import pytest

from hydra_plugins.d2lab_sweepers.grid_sweeper import expand_grid
from hydra_plugins.d2lab_sweepers.launch_plan import plan_jobs
from tests.conftest import read_metrics, run_cli

REPO = Path(__file__).resolve().parents[1]
GRID = ["data=airfoil", "optimizer=sgd,adam", "optimizer.lr=0.01,0.1", "trainer.max_epochs=3", "logger=csv"]


def sweep(folder: Path, *args: str):
    return run_cli("-m", "d2lab.train", "-m", *args, f"hydra.sweep.dir={folder}", cwd=REPO)


def interrupt(tmp_path: Path, job: int, step: int) -> list[str]:
    """Overrides that press Ctrl-C once, in job `job` at optimizer step `step`."""
    return [
        "+callbacks.stop._target_=tests.interrupt_once.InterruptOnce",
        f"+callbacks.stop.job={job}",
        f"+callbacks.stop.step={step}",
        f"+callbacks.stop.marker={tmp_path / 'pressed'}",
    ]


def test_the_grid_is_hydras_basic_grid():
    jobs, swept = expand_grid(["a=1,2", "b=x,y", "c=3", "a=1,2,5"])
    assert jobs[:3] == [["a=1", "b=x", "c=3"], ["a=1", "b=y", "c=3"], ["a=2", "b=x", "c=3"]]  # last key fastest
    assert len(jobs) == 6 and swept == {"a": ["1", "2", "5"], "b": ["x", "y"]}


def write_job(sweep_dir: Path, num: int, overrides: list[str], status: str | None) -> None:
    folder = sweep_dir / str(num)
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if status:
        (folder / "metrics.json").write_text(json.dumps({"status": status, "pid": 0}))


def test_the_plan_skips_finished_jobs_reruns_the_rest_in_place_and_numbers_new_ones_after(tmp_path):
    for num, (lr, status) in enumerate([("0.1", "ok"), ("0.2", "failed"), ("0.3", "diverged"), ("0.4", "running")]):
        write_job(tmp_path, num, [f"optimizer.lr={lr}"], status)
    write_job(tmp_path, 4, ["optimizer.lr=0.5"], None)  # crashed before it wrote metrics.json
    jobs = [[f"optimizer.lr={lr}"] for lr in ("0.5", "0.1", "0.2", "0.3", "0.4", "0.6")]
    plan = plan_jobs(jobs, tmp_path)
    assert [j.num for j in plan.skipped] == [0, 2]  # ok and diverged are results; running with a dead pid is not
    assert plan.launch == [(1, ["optimizer.lr=0.2"]), (3, ["optimizer.lr=0.4"]), (4, ["optimizer.lr=0.5"]),
                           (5, ["optimizer.lr=0.6"])]  # fmt: skip
    assert [(first, len(batch)) for first, batch in plan.batches(None)] == [(1, 1), (3, 3)]
    assert [len(batch) for _, batch in plan.batches(2)] == [1, 2, 1]
    rerun_all = plan_jobs(jobs, tmp_path, resume=False)
    assert [num for num, _ in rerun_all.launch] == [5, 6, 7, 8, 9, 10] and not rerun_all.skipped


@pytest.mark.slow
def test_a_sweep_interrupted_and_run_again_skips_what_finished_and_ends_like_an_uninterrupted_one(tmp_path):
    reference = sweep(tmp_path / "reference", *GRID)
    assert reference.returncode == 0, reference.stderr[-3000:]
    cut = tmp_path / "cut"
    command = [*GRID, *interrupt(tmp_path, job=2, step=200)]  # adam lr 0.01, in its second epoch of 150 steps
    first = sweep(cut, *command)
    assert first.returncode == 130, first.stderr[-3000:]
    assert [read_metrics(cut / str(i))["status"] for i in range(3)] == ["ok", "ok", "interrupted"]
    assert not (cut / "3").exists()
    assert json.loads((cut / "sweep.json").read_text())["status"] == "interrupted"
    assert f"hydra.sweep.dir={cut}" in first.stdout + first.stderr
    finished_at = (cut / "0" / "metrics.json").stat().st_mtime_ns

    again = sweep(cut, *command)  # the same command
    log = again.stdout + again.stderr
    assert again.returncode == 0, log[-3000:]
    assert "Skipping job 0 (ok)" in log and "Skipping job 1 (ok)" in log
    assert "Re-running job 2 (interrupted) from interrupted.ckpt" in log
    assert (cut / "0" / "metrics.json").stat().st_mtime_ns == finished_at
    for i in range(4):
        resumed, whole = read_metrics(cut / str(i)), read_metrics(tmp_path / "reference" / str(i))
        assert resumed["status"] == "ok"
        assert resumed["val/loss"] == whole["val/loss"] and resumed["steps"] == whole["steps"] == 450
    assert json.loads((cut / "sweep.json").read_text())["status"] == "done"

    wider = sweep(cut, *[g.replace("0.01,0.1", "0.01,0.1,0.03") for g in command])  # one more lr: 2 new jobs
    assert wider.returncode == 0, wider.stderr[-3000:]
    assert "4 of 6 jobs already finished; launching 2" in wider.stdout + wider.stderr
    new = {read_metrics(cut / str(i))["val/loss"] for i in (4, 5)}
    assert len(new) == 2 and (cut / "0" / "metrics.json").stat().st_mtime_ns == finished_at


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["-m", "seed=1,2", "hydra.sweeper.resume=maybe"], "hydra.sweeper.resume='maybe'"),
        (["-m", "seed=1,2", "hydra.sweeper.max_batch_size=0"], "hydra.sweeper.max_batch_size=0"),
        (["-m", "seed=1,2", "hydra/launcher=parallel", "hydra.launcher.n_jobs=0"], "hydra.launcher.n_jobs=0"),
        (["-m", "optimizer.lr=interval(0.1,1)"], "'optimizer.lr=interval(0.1,1)'"),
        (["hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=abc"], "hydra.sweeper.n_trials='abc'"),
        (["hparams_search=airfoil_optuna", "hydra.sweeper.n_jobs=0"], "hydra.sweeper.n_jobs=0"),
        (["hparams_search=airfoil_optuna", "hydra.sweeper.storage=mysql://x@127.0.0.1:1/x"], "hydra.sweeper.storage"),
        (["hparams_search=airfoil_optuna", "hydra.sweeper.direction=sideways"], "hydra.sweeper.direction='sideways'"),
    ],
)
def test_a_bad_sweeper_setting_gets_one_paragraph_and_no_job_runs(tmp_path, args, key):
    result = run_cli("-m", "d2lab.train", *args, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=REPO)
    assert result.returncode != 0
    assert key in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "sweep").glob("[0-9]*"))  # nothing ran, nothing lost
