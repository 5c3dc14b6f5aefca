"""Tests compose the real configs (conf/) once per case and point every output at tmp_path."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import d2lab.resolvers  # noqa: F401
from d2lab.paths import config_dir

REPO = Path(__file__).resolve().parents[1]


def compose_config(tmp_path: Path, overrides: list[str] = (), config_name: str = "train") -> DictConfig:
    """The config `python -m d2lab.<config_name> <overrides>` would run, with outputs under tmp_path."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=config_dir()):
        cfg = compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path)
        cfg.paths.log_dir = str(tmp_path / "logs")
        cfg.paths.data_dir = str(tmp_path / "data")
        cfg.hydra.runtime.output_dir = str(tmp_path)
        if "trainer" in cfg:  # the playground config has none
            cfg.trainer.enable_progress_bar = False
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.fixture
def compose_cfg(tmp_path):
    return lambda *overrides, config_name="train": compose_config(tmp_path, overrides, config_name)


@pytest.fixture
def train_cfg(tmp_path):
    """Run `d2lab.train.train` on a composed config; returns (summary, cfg)."""
    from d2lab.train import train

    def run(*overrides: str) -> tuple[dict, DictConfig]:
        cfg = compose_config(tmp_path, overrides)
        return train(cfg, {}), cfg

    return run


def run_cli(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `python <args>` as a user would, from `cwd`, and capture its output."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def read_metrics(folder: Path) -> dict:
    return json.loads((Path(folder) / "metrics.json").read_text())


def this_test_process() -> tuple[str, str]:
    """(this pytest run, this process within it): pytest-xdist's run id and worker name, else this process's."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid{os.getpid()}"), os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[dict[str, str | None]]:
    """A running Slurm cluster for the session: the one $SLURM_CONF names, or else scripts/slurm_local.sh's on
    127.0.0.1, installed (apt-get) and started here if it is not up, and then stopped here at the end.

    A start is recorded in the state folder's `started_by_tests` (run id, worker, pid), and `started_by` says which
    test process started it this run (None: it was up before), so a test can show no second one ever did."""
    import shutil

    def answers() -> bool:
        try:
            return subprocess.run(["sinfo"], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    if os.environ.get("SLURM_CONF") and shutil.which("sinfo") and answers():
        yield {"SLURM_CONF": os.environ["SLURM_CONF"], "started_by": None}
        return
    if os.geteuid() != 0:
        pytest.skip("needs root, to install and start a local Slurm cluster (scripts/slurm_local.sh up), or "
                    "SLURM_CONF naming a running cluster")  # fmt: skip
    script = ["bash", str(REPO / "scripts" / "slurm_local.sh")]
    state = Path(os.environ.get("SLURM_LOCAL_DIR", "/tmp/d2lab-slurm"))
    conf = str(state / "etc" / "slurm.conf")
    started = subprocess.run([*script, "status"], capture_output=True, text=True).returncode != 0
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SLURM_CONF", conf)  # for every process a test starts: sbatch, sacct, and the jobs themselves
        try:
            if started:
                up = subprocess.run([*script, "up"], capture_output=True, text=True, timeout=900)
                assert up.returncode == 0, f"scripts/slurm_local.sh up failed:\n{up.stdout}\n{up.stderr}"
                started = "already up" not in up.stdout  # another process's `up` held the script's lock
            if started:
                with open(state / "started_by_tests", "a") as record:
                    record.write(" ".join((*this_test_process(), str(os.getpid()))) + "\n")
            yield {"SLURM_CONF": conf, "started_by": this_test_process()[1] if started else None}
        finally:
            if started:
                subprocess.run([*script, "down"], capture_output=True, timeout=300)
