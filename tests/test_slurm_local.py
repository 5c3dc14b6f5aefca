"""scripts/slurm_local.sh on its own state folder and ports, beside the suite's cluster: two `up`s at once start one
cluster, a failed `up` leaves nothing running, and apt-get waits for another package manager."""

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the script installs packages and runs slurmd"),
]

SCRIPT = ("bash", str(REPO / "scripts" / "slurm_local.sh"))
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
# A real start-up failure late in `up`: slurm.conf parses, but slurmctld cannot create its state folder and exits,
# after munged, MariaDB and slurmdbd have started.
UNWRITABLE_STATE = "StateSaveLocation=/proc/d2lab-cannot-create-this"


@pytest.fixture
def state() -> Iterator[Path]:
    """A state folder of its own (short: munge's and MariaDB's sockets live in it) and ports apart from the suite's
    cluster; whatever the test leaves running is stopped by the script, then the folder removed."""
    folder = Path(tempfile.mkdtemp(prefix="d2lab-sl-"))
    folder.chmod(0o755)  # munged refuses a socket under a folder that not everyone may enter
    yield folder
    script("down", state=folder)
    shutil.rmtree(folder, ignore_errors=True)
    Path(f"{folder}.lock").unlink(missing_ok=True)


def script(*args: str, state: Path, extra_conf: str = "", wait: bool = True):
    env = {**os.environ, "SLURM_LOCAL_DIR": str(state), "SLURM_LOCAL_PORT": "7817", "SLURM_LOCAL_DB_PORT": "3317"}
    env.pop("SLURM_CONF", None)
    if extra_conf:
        env["SLURM_LOCAL_EXTRA_CONF"] = extra_conf
    proc = subprocess.Popen([*SCRIPT, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=900)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def daemons_of(state: Path) -> list[str]:
    """The names of the running processes of the cluster in `state`: the script starts each with its SLURM_CONF."""
    mark = f"SLURM_CONF={state}/etc/slurm.conf".encode()
    names = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and mark in (proc / "environ").read_bytes().split(b"\0"):
                stat = (proc / "stat").read_text()
                if stat.rsplit(") ", 1)[1].split()[0] != "Z":  # exited, not yet reaped
                    names.append((proc / "comm").read_text().strip())
        except OSError:  # it exited while we looked
            continue
    return sorted(names)


def test_two_ups_at_once_start_one_cluster_and_both_succeed(state):
    first, second = script("up", state=state, wait=False), script("up", state=state, wait=False)
    outputs = [(proc.returncode, out, err) for proc in (first, second) for out, err in [proc.communicate(timeout=900)]]
    assert [rc for rc, _, _ in outputs] == [0, 0], outputs
    stdout = "".join(out for _, out, _ in outputs)
    assert stdout.count("started in") == 1 and stdout.count("already up") == 1, stdout
    assert "holds" in stdout and "waiting for it" in stdout  # the second waited on the lock
    running = daemons_of(state)
    assert sorted(set(running) & set(DAEMONS)) == sorted(DAEMONS)
    assert [n for n in running if n in DAEMONS] == sorted(DAEMONS)  # one of each, not two
    assert script("status", state=state).returncode == 0

    down = script("down", state=state)
    assert down.returncode == 0 and daemons_of(state) == []


def test_a_failed_up_stops_every_daemon_it_started_and_down_finds_nothing(state):
    failed = script("up", state=state, extra_conf=UNWRITABLE_STATE)
    assert failed.returncode == 1
    assert "slurmctld exited during start-up" in failed.stderr
    assert "stopping the daemons it started (munged mariadbd slurmdbd slurmctld)" in failed.stderr
    assert daemons_of(state) == []
    status = script("status", state=state)
    assert status.returncode == 1 and status.stdout.strip() == "down"

    down = script("down", state=state)
    assert down.returncode == 0 and "not running" in down.stdout and daemons_of(state) == []

    up = script("up", "--no-accounting", state=state)  # and the next `up` starts clean
    assert up.returncode == 0, up.stderr
    assert daemons_of(state) == ["munged", "slurmctld", "slurmd", "slurmscriptd"]


def test_apt_get_waits_for_another_package_manager_instead_of_failing(state):
    lock = os.open("/var/lib/dpkg/lock-frontend", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX)  # as apt-get and dpkg take it
        started = time.monotonic()
        install = script("install", state=state, wait=False)
        time.sleep(3)
        assert install.poll() is None  # still waiting
        fcntl.lockf(lock, fcntl.LOCK_UN)
        out, err = install.communicate(timeout=900)
    finally:
        os.close(lock)
    assert install.returncode == 0, err
    assert time.monotonic() - started >= 3
    assert "waiting for another package manager to release dpkg's lock" in out
