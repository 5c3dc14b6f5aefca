"""No shipped preset trips the divergence guard: every preset's first epochs, every job of its sweep, run for real.

A preset job may only be recorded `diverged` where it really blows up to NaN/inf, i.e. where it would also be
stopped with the finite criterion turned off (callbacks.divergence.max_loss_ratio=null).
"""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from d2lab.errors import DivergedError
from d2lab.paths import config_dir
from d2lab.train import train
from hydra_plugins.d2lab_sweepers.grid_sweeper import expand_grid
from tests.conftest import compose_config
from tests.fashion_idx import REAL_RAW, link_real_fashion_mnist

PRESETS = sorted(p.stem for p in (Path(config_dir()) / "experiment").glob("*.yaml"))
# The image presets' first epochs: two batches each of a small real subset, 28 px; test off (the test split
# is not what a false alarm is about).
IMAGES = ("data.train_size=768", "+trainer.limit_train_batches=2", "data.resize=28", "test=false")


def sweep_jobs(tmp_path: Path, preset: str) -> list[list[str]]:
    """The preset's multirun jobs as override lists, as its sweeper expands them (a single run where it sweeps
    nothing). A `_seeds` preset's jobs are its base preset's, which run here too, at each of its seeds."""
    cfg = compose_config(tmp_path, [f"experiment={preset}"])
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    jobs, _ = expand_grid([f"{key}={values}" for key, values in params.items()])
    return jobs


@pytest.fixture(scope="module")
def real_data(tmp_path_factory) -> Path:
    if not REAL_RAW.is_dir():
        pytest.skip("no real Fashion-MNIST at ../shared/data/FashionMNIST/raw")
    data_dir = tmp_path_factory.mktemp("fashion")
    link_real_fashion_mnist(data_dir)
    return data_dir


def run(tmp_path: Path, overrides: list[str], data_dir: Path | None) -> str:
    cfg = compose_config(tmp_path, overrides)
    if data_dir is not None:
        cfg.paths.data_dir = str(data_dir)  # compose_config points it at tmp_path
    try:
        train(cfg, {})
    except DivergedError as exc:
        return str(exc)
    return "ok"


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_first_epochs_raise_no_false_alarm(preset, tmp_path, request):
    base = [f"experiment={preset}", "trainer.max_epochs=2", "~logger"]
    images = "FashionMNIST" in compose_config(tmp_path / "probe", base).data._target_
    data_dir = request.getfixturevalue("real_data") if images else None
    base += list(IMAGES) if images else []
    for n, job in enumerate(sweep_jobs(tmp_path / "jobs", preset)):
        outcome = run(tmp_path / str(n), [*base, *job], data_dir)
        if outcome != "ok":  # only a real blow-up may stop a preset job
            nan_only = run(tmp_path / f"{n}-nan", [*base, *job, "callbacks.divergence.max_loss_ratio=null"], data_dir)
            assert nan_only != "ok", f"false alarm on {preset} {job}: {outcome}"
