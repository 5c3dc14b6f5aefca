"""A sweep whose every job fails did none of its work: it says so in one paragraph and exits 1. A sweep where some
jobs failed records them and exits 0, as a search with failed trials does."""

import pytest

from tests.conftest import read_metrics, run_cli


@pytest.mark.slow
@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=parallel", "hydra.launcher.n_jobs=2"]])
def test_a_sweep_whose_every_job_failed_exits_1_in_one_paragraph(tmp_path, launcher):
    done = run_cli("-m", "d2lab.train", "-m", "data=airfoil", "trainer.max_epochs=-7", "seed=0,1", *launcher,
                   f"hydra.sweep.dir={tmp_path}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("d2lab: All 2 jobs this sweep ran failed; job 0 failed with: trainer.max_epochs=-7")
    assert [read_metrics(tmp_path / str(n))["status"] for n in (0, 1)] == ["failed", "failed"]


@pytest.mark.slow
def test_a_sweep_with_some_failed_jobs_records_them_and_exits_0(tmp_path):
    done = run_cli("-m", "d2lab.train", "-m", "data=airfoil", "trainer.max_epochs=1,-7", "~logger",
                   f"hydra.sweep.dir={tmp_path}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert [read_metrics(tmp_path / str(n))["status"] for n in (0, 1)] == ["ok", "failed"]
