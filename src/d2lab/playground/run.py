"""Hydra entry point of the optimization playground: one optimizer on one toy objective, step by step.

    python -m d2lab.playground demo=gd_x_squared                       # the book's GD on x² with η = 0.2
    python -m d2lab.playground objective=x_cos optimizer=newton optimizer.lr=0.5
    python -m d2lab.playground -m demo=sgd_2d_schedules                # + one comparison.png for the sweep

Each run writes trajectory.png, TensorBoard scalars and metrics.json into its folder. A run that ends above
where it started (or at infinity) is recorded as diverged.
"""

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from d2lab.job.record import guarded_run
from d2lab.paths import config_dir

log = logging.getLogger("d2lab")


def describe(cfg: DictConfig, formula: str) -> str:
    """A figure title such as `x²: SGD lr=0.2, Exponential rate=0.1`."""
    optimizer = f"{cfg.optimizer._target_.rsplit('.', 1)[-1]} lr={cfg.optimizer.lr:g}"
    title = f"{formula}: {optimizer}"
    if cfg.get("scheduler") and not cfg.scheduler._target_.endswith(".Constant"):
        knobs = " ".join(f"{k}={v}" for k, v in cfg.scheduler.items() if k[0] != "_" and k != "interval")
        title += f", {cfg.scheduler._target_.rsplit('.', 1)[-1]} {knobs}"
    return title


def play(cfg: DictConfig, record: dict) -> dict:
    from hydra.utils import instantiate

    from d2lab.errors import DivergedError
    from d2lab.playground.descend import descend, divergence
    from d2lab.playground.plots import plot_trajectory
    from d2lab.playground.tensorboard import write_tensorboard
    from d2lab.playground.trajectory import coordinate_names
    from d2lab.train import flat_hparams

    objective = instantiate(cfg.objective)
    path = descend(objective, instantiate(cfg.optimizer), instantiate(cfg.get("scheduler")), cfg.seed)
    names = coordinate_names(objective.dim)
    final = {f"final/{n}": v for n, v in zip(names, path.points[-1], strict=True)}
    final["final/f"] = path.values[-1]
    steps = len(path.values) - 1
    # The sweeper's metric is where the run ends, f(x_T): lower is better.
    record.update(monitor="final/f", mode="min", best=path.values[-1], objective=objective.name, steps=steps)
    record.update(final)

    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    where = ", ".join(f"{n}: {v:f}" for n, v in zip(names, path.points[-1], strict=True))
    title = f"{describe(cfg, objective.formula)}\nstep {steps}, {where}"
    record["plot"] = plot_trajectory(objective, path, title, out / "trajectory.png").name
    write_tensorboard(out / "tensorboard", path, flat_hparams(cfg), final)
    record["history"] = path.rows()
    log.info("step %d, %s, f(x): %g (plot: %s)", steps, where, path.values[-1], out / "trajectory.png")

    reason = divergence(path)
    if reason is not None:
        raise DivergedError(f"{reason} Plot: {out / 'trajectory.png'}", epoch=steps, step=steps)
    return {}


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="playground")
def main(cfg: DictConfig) -> float:
    return guarded_run(cfg, lambda record: play(cfg, record))


if __name__ == "__main__":
    main()
