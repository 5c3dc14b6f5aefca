"""`make test` spreads the suite over processes (pytest-xdist) with this project's pytest settings; each test file's
tests stay in one process, which is what lets tests/test_slurm.py start one cluster. Shown on the installed pytest and
pytest-xdist, with two files of tests that record where they ran."""

import json

from tests.conftest import REPO, run_cli

RECORDING_TEST = """
import json, os, time
import pytest

@pytest.mark.parametrize("n", range(6))
def test_records_its_process(n):
    time.sleep(0.3)  # long enough that both processes take work
    with open({log!r}, "a") as log:
        log.write(json.dumps([__name__, os.environ["PYTEST_XDIST_WORKER"]]) + "\\n")
"""


def test_each_test_file_runs_in_one_process_while_files_run_side_by_side(tmp_path):
    log = tmp_path / "where.jsonl"
    for name in ("test_cluster_like", "test_other"):
        (tmp_path / f"{name}.py").write_text(RECORDING_TEST.format(log=str(log)))
    result = run_cli("-m", "pytest", "-q", "-n", "2", "-c", str(REPO / "pyproject.toml"), "--rootdir", str(tmp_path),
                     "-p", "no:cacheprovider", str(tmp_path), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ran = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(ran) == 12
    workers = {module: {w for m, w in ran if m == module} for module in ("test_cluster_like", "test_other")}
    assert all(len(w) == 1 for w in workers.values()), workers  # one process per file
    assert workers["test_cluster_like"] != workers["test_other"], workers  # and the files side by side
