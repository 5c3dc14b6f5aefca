"""One comparison figure for a playground multirun: every job's trajectory over one background.

    python -m d2lab.playground.compare logs/playground/multiruns/<stamp>   # writes <stamp>/comparison.png

Each job is labelled by the overrides that differ between jobs (e.g. `optimizer.lr=1.1`). The playground's
config also hooks `CompareOnMultirunEnd` into Hydra, so a multirun draws this figure by itself. It reads files
and draws with numpy, never torch: `python -m d2lab.report` draws it too, and the report imports no torch.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from d2lab.playground.trajectory import Trajectory, coordinate_names

# What makes two objectives the same function, whatever their start, length or noise.
RUN_SETTINGS = ("start", "steps", "noise")


def load_job(job_dir: Path) -> tuple[list[str], DictConfig, Trajectory, str]:
    """(overrides, objective config, trajectory, status) of one finished job."""
    record = json.loads((job_dir / "metrics.json").read_text())
    overrides = list(OmegaConf.load(job_dir / ".hydra" / "overrides.yaml"))
    objective = OmegaConf.load(job_dir / ".hydra" / "config.yaml").objective
    rows = record.get("history", [])
    names = coordinate_names(len(objective.start))
    path = Trajectory(
        points=[[row[n] for n in names] for row in rows],
        values=[row["f"] for row in rows],
        lrs=[row["lr"] for row in rows[:-1]],
    )
    return overrides, objective, path, record.get("status", "unknown")


def job_dirs(sweep_dir: Path) -> list[Path]:
    finished = (d for d in Path(sweep_dir).iterdir() if (d / "metrics.json").is_file())
    jobs = [d for d in finished if (d / ".hydra").is_dir()]
    return sorted(jobs, key=lambda d: (len(d.name), d.name))  # 2 before 10


def is_playground_sweep(sweep_dir: str | Path) -> bool:
    """True when the folder's jobs are playground runs (their metrics.json names an objective)."""
    return any("objective" in json.loads((d / "metrics.json").read_text()) for d in job_dirs(Path(sweep_dir)))


def compare(sweep_dir: str | Path, out_name: str = "comparison.png") -> Path | None:
    """Draw the figure into the sweep folder; None when no job left a trajectory."""
    from hydra.utils import instantiate

    from d2lab.playground.plots import plot_comparison

    jobs = [load_job(d) for d in job_dirs(Path(sweep_dir))]
    jobs = [job for job in jobs if job[2].values]
    if not jobs:
        return None
    shared = set.intersection(*(set(overrides) for overrides, *_ in jobs))
    runs = []
    for overrides, _, path, status in jobs:
        label = " ".join(o for o in overrides if o not in shared) or "job"
        runs.append((label + (f" ({status})" if status != "ok" else ""), path))
    functions = [OmegaConf.masked_copy(obj, [k for k in obj if k not in RUN_SETTINGS]) for _, obj, *_ in jobs]
    same = all(f == functions[0] for f in functions)
    objective = instantiate(jobs[0][1]) if same else None  # different functions: only f(x) per step
    title = " ".join(sorted(shared)) or Path(sweep_dir).name
    if objective is not None:
        title = f"{objective.formula}: {title}"
    return plot_comparison(objective, runs, title, Path(sweep_dir) / out_name)


class CompareOnMultirunEnd(Callback):
    """Hydra callback: after the last job of a multirun, draw the comparison into the sweep folder."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        import logging

        out = compare(config.hydra.sweep.dir)
        if out is not None:
            logging.getLogger("d2lab").info("comparison of %s: %s", config.hydra.sweep.dir, out)


def main(argv: list[str] | None = None) -> None:
    summary = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m d2lab.playground.compare", description=summary)
    parser.add_argument(
        "sweep_dir", type=Path, help="a playground multirun folder, e.g. logs/playground/multiruns/<stamp>"
    )
    args = parser.parse_args(argv)
    out = compare(args.sweep_dir)
    if out is None:
        raise SystemExit(f"d2lab: no playground job with metrics.json under {args.sweep_dir}")
    print(out)


if __name__ == "__main__":
    main()
