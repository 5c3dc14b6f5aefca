"""An Optuna search's own pictures, drawn by `optuna.visualization.matplotlib` from the study's storage.

The trials table (number, state, value, parameters), the optimization history, the parameter importances,
a parallel-coordinates plot and, where trials reported at validations, their intermediate values (the
pruner's view). The study is found from the sweep's `sweep.json`, which the Optuna sweeper writes; reading
its storage reads a file (a journal or SQLite), so the report works on a search that is still running.
"""

import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import matplotlib

if "ipykernel" not in sys.modules:  # files only, headless; a notebook keeps the backend it chose
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from d2lab.sweeps.state import read_json  # noqa: E402

log = logging.getLogger(__name__)


def load_study(sweep_dir: Path) -> Any:
    """The sweep's Optuna study, or None when the sweep is not an Optuna search (or its storage is gone)."""
    state = read_json(sweep_dir / "sweep.json")
    if "study_name" not in state:
        return None
    import optuna

    from d2lab.sweeps.optuna_study import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=state["study_name"], storage=open_storage(state.get("storage"), sweep_dir))
    except (KeyError, OSError, ValueError) as exc:  # a deleted journal, another study's database
        log.warning("%s: cannot open study %r: %s", sweep_dir, state["study_name"], exc)
        return None


def trials_table(study: Any, path: Path) -> Path:
    """study.trials_dataframe() as a picture (and the same table as trials.csv beside it)."""
    frame = study.trials_dataframe(attrs=("number", "state", "value", "params", "duration"))
    frame.to_csv(path.with_suffix(".csv"), index=False)
    frame = frame.rename(columns=lambda c: c.removeprefix("params_"))
    if "duration" in frame:
        frame["duration"] = frame["duration"].dt.total_seconds().round(2)
    cells = frame.map(lambda v: f"{v:.4g}" if isinstance(v, float) else str(v))
    fig, ax = plt.subplots(figsize=(1.6 * len(frame.columns) + 1, 0.3 * len(frame) + 1), layout="constrained")
    ax.axis("off")
    table = ax.table(cellText=cells.values, colLabels=list(frame.columns), loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (row, _), cell in table.get_celld().items():
        state = frame["state"].iloc[row - 1] if row > 0 else None
        if state in ("PRUNED", "FAIL", "RUNNING"):
            cell.set_facecolor({"PRUNED": "#fdf2d0", "FAIL": "#f8d7d7", "RUNNING": "#dde8f8"}[state])
    ax.set_title(f"study {study.study_name}: {len(frame)} trials")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def save(ax: Any, path: Path) -> Path:
    figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure  # one Axes, or an array of them
    figure.set_size_inches(max(figure.get_size_inches()[0], 8), max(figure.get_size_inches()[1], 5))
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def study_plots(sweep_dir: Path) -> list[Path]:
    """The study's pictures in `sweep_dir`; a picture the study cannot have yet (importances before two
    trials completed) is left out, with a log line."""
    study = load_study(sweep_dir)
    if study is None or not study.get_trials(deepcopy=False):
        return []
    import optuna

    # Optuna's plots set a matplotlib style and warn that they are experimental: neither outlives the report, which
    # may run inside a user's notebook (Sweep.report())
    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        return [trials_table(study, sweep_dir / "optuna_trials.png"), *optuna_plots(study, sweep_dir)]


def optuna_plots(study: Any, sweep_dir: Path) -> list[Path]:
    import optuna
    import optuna.visualization.matplotlib as ovm

    images = []
    plots = {
        "optuna_history.png": ovm.plot_optimization_history,
        # PED-ANOVA: Optuna's own evaluator, without the scikit-learn that the default fANOVA needs
        "optuna_importances.png": lambda s: ovm.plot_param_importances(
            s, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
        ),
        "optuna_parallel.png": ovm.plot_parallel_coordinate,
        "optuna_intermediate.png": ovm.plot_intermediate_values,
    }
    for name, plot in plots.items():
        before = set(plt.get_fignums())
        try:
            images.append(save(plot(study), sweep_dir / name))
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # too few completed trials for this one
            for number in set(plt.get_fignums()) - before:  # the figure it began, not the user's
                plt.close(number)
            log.info("%s: no %s yet (%s)", sweep_dir, name, exc)
    return images
