"""The optimization playground reproduces the book's numbers (12.3, 12.4) from the real configs."""

import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from d2lab.errors import DivergedError
from d2lab.job.record import guarded_run
from d2lab.optim.newton import Newton
from d2lab.paths import config_dir
from d2lab.playground.compare import is_playground_sweep
from d2lab.playground.compare import main as compare_main
from d2lab.playground.run import play
from tests.conftest import read_metrics, run_cli

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def play_demo(compose_cfg):
    """Run one playground config in-process; returns (metrics record, run folder, diverged?)."""

    def run(*overrides: str) -> tuple[dict, Path, bool]:
        cfg = compose_cfg(*overrides, config_name="playground")
        record: dict = {}
        try:
            play(cfg, record)
        except DivergedError:
            return record, Path(cfg.paths.output_dir), True
        return record, Path(cfg.paths.output_dir), False

    return run


# The book's printed results: (preset, final coordinates, diverged?)
BOOK = [
    ("gd_x_squared", [0.060466], False),  # 12.3.1, η = 0.2
    ("gd_x_squared_slow", [3.486784], False),  # η = 0.05
    ("gd_x_squared_diverge", [61.917364], True),  # η = 1.1
    ("gd_x_cos", [-1.528166], False),  # η = 2: a local minimum
    ("newton_x_cos", [26.834133], True),  # Newton, η = 1: climbs (12.3.3)
    ("newton_x_cos_damped", [7.269860], False),  # η = 0.5: the fix
    ("gd_2d", [-0.057646, -0.000073], False),  # 12.3.2, η = 0.1, 20 steps
]


@pytest.mark.parametrize(("demo", "final", "diverged"), BOOK, ids=[b[0] for b in BOOK])
def test_demos_end_where_the_book_says(play_demo, demo, final, diverged):
    record, out, flagged = play_demo(f"demo={demo}")
    names = ["x"] if len(final) == 1 else ["x1", "x2"]
    assert [record[f"final/{n}"] for n in names] == pytest.approx(final, abs=1e-6)
    assert flagged is diverged
    assert (out / "trajectory.png").read_bytes().startswith(PNG)


def test_newton_on_cosh_reaches_the_minimum_within_10_steps(play_demo):
    record, _, diverged = play_demo("demo=newton_cosh")
    first = next(row["step"] for row in record["history"] if abs(row["x"]) < 1e-6)
    assert not diverged and first <= 10 and record["steps"] == 10


def test_diverged_run_is_recorded_with_its_trajectory(compose_cfg):
    cfg = compose_cfg("demo=gd_x_squared_diverge", config_name="playground")
    with pytest.raises(SystemExit):  # a single run exits non-zero, after writing everything
        guarded_run(cfg, lambda record: play(cfg, record))
    metrics = read_metrics(cfg.paths.output_dir)
    assert metrics["status"] == "diverged" and "rose from 100 to 3833.76" in metrics["error"]
    assert len(metrics["history"]) == 11 and metrics["final/x"] == pytest.approx(61.917364)


def test_tensorboard_has_x_and_f_at_every_step(play_demo):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, out, _ = play_demo("demo=gd_2d")
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    for tag in ("x1", "x2", "f", "lr"):
        assert tag in events.Tags()["scalars"]
    assert [e.step for e in events.Scalars("f")] == list(range(21))
    assert events.Scalars("x1")[-1].value == pytest.approx(-0.057646, abs=1e-6)


def test_noisy_sgd_follows_the_schedule_and_the_seed(play_demo):
    record, _, _ = play_demo("demo=sgd_2d_exponential", "objective.steps=30")
    lrs = [row["lr"] for row in record["history"][:-1]]
    assert lrs == pytest.approx([0.1 * math.exp(-0.1 * t) for t in range(30)])
    again, _, _ = play_demo("demo=sgd_2d_exponential", "objective.steps=30")
    other, _, _ = play_demo("demo=sgd_2d_exponential", "objective.steps=30", "seed=7")
    assert again["history"] == record["history"] and other["history"] != record["history"]
    exact, _, _ = play_demo("demo=sgd_2d_exponential", "objective.steps=30", "objective.noise=0")
    assert exact["final/f"] != record["final/f"]  # the noise is really there


def test_every_demo_and_objective_composes(compose_cfg):
    from hydra.utils import instantiate

    for demo in sorted(p.stem for p in (Path(config_dir()) / "demo").glob("*.yaml")):
        cfg = compose_cfg(f"demo={demo}", config_name="playground")
        objective = instantiate(cfg.objective)
        assert objective(torch.tensor(objective.start)).isfinite()
        assert callable(instantiate(cfg.optimizer)) and hasattr(instantiate(cfg.scheduler), "build")


def test_newton_step_matches_autograd_hessian():
    # A non-quadratic 2-D function: Newton's step must be x - H⁻¹∇f with torch's own Hessian.
    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.cosh(x[0]) + x[0] * x[1] ** 2 + 3 * x[1] ** 2

    start = torch.tensor([0.7, -1.2], dtype=torch.float64)
    x = start.clone().requires_grad_(True)
    opt = Newton([x], lr=0.5)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = f(x)
        (x.grad,) = torch.autograd.grad(loss, x, create_graph=True)
        return loss

    opt.step(closure)
    grad = torch.func.grad(f)(start)
    hessian = torch.autograd.functional.hessian(f, start)
    torch.testing.assert_close(x.detach(), start - 0.5 * torch.linalg.solve(hessian, grad))


def test_newton_lands_on_a_quadratics_minimum_in_one_step_and_needs_the_graph():
    a = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    b = torch.tensor([1.0, -1.0], dtype=torch.float64)
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = Newton([x])

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = 0.5 * x @ a @ x - b @ x
        (x.grad,) = torch.autograd.grad(loss, x, create_graph=True)
        return loss

    opt.step(closure)
    torch.testing.assert_close(x.detach(), torch.linalg.solve(a, b))

    def no_graph() -> torch.Tensor:
        opt.zero_grad()
        loss = (x**2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="create_graph=True"):
        opt.step(no_graph)


@pytest.mark.slow
def test_multirun_gets_one_comparison_figure(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m", "d2lab.playground", "-m", "demo=gd_x_squared", "optimizer.lr=0.2,1.1",
        f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in sweep.iterdir()) == ["0", "1", "comparison.png", "multirun.yaml", "sweep.json"]
    assert [read_metrics(sweep / j)["status"] for j in ("0", "1")] == ["ok", "diverged"]
    assert (sweep / "comparison.png").read_bytes().startswith(PNG)
    assert "optimizer.lr=1.1" in OmegaConf.load(sweep / "1" / ".hydra" / "overrides.yaml")
    assert is_playground_sweep(sweep)
    # The same figure from the command line, for a sweep already on disk.
    (sweep / "comparison.png").unlink()
    compare_main([str(sweep)])
    assert (sweep / "comparison.png").read_bytes().startswith(PNG)
