"""The report's pictures: every job's (or seed group's, with its band) curve against epoch and wall time, and a
heat map for a 2-D grid."""

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from d2lab.report.groups import REPLICATES, group_keys
from d2lab.report.jobs import Job, as_number, short

# Figures are built with matplotlib's object API, not pyplot: a file needs no display (headless sweeps, CI), and
# a notebook shows the Figure that d2lab.load(...).plot() returns, once, whatever backend it uses.


def labels(jobs: list[Job], keys: list[str]) -> list[str]:
    """`lr=0.05 batch_size=10` from the varying overrides; full keys where the last parts would collide."""
    tails = [k.rsplit(".", 1)[-1] for k in keys]
    names = tails if len(set(tails)) == len(tails) else keys
    out = []
    for job in jobs:
        text = " ".join(f"{n}={short(job.overrides.get(k, '-'))}" for n, k in zip(names, keys, strict=True))
        out.append(text or f"job {job.name}")
        if job.status != "ok":
            out[-1] += f" ({job.status})"
    return out


def curve_points(history: list[dict], metric: str) -> list[tuple[float, float, float]]:
    """(epochs done, seconds, value) per history record that has the metric (the train loss where none has it).

    The seconds are training time with evaluation left out (`train_time_s`, what the book's timer counts) where
    the history has it, else the fit's wall time. The epochs are the record's own fraction (`epochs`); in a history
    written before d2lab kept it, a validation inside an epoch (trainer.val_check_interval) sits at its fraction of
    the epoch, found from the optimizer steps at the epochs' ends."""
    if not any(metric in h for h in history):
        metric = "train/loss"
    ends = {h["epoch"]: h["step"] for h in history if "epoch_s" in h and "step" in h and "epoch" in h}

    def epochs_done(i: int, h: dict) -> float:
        if h.get("epochs") is not None:
            return h["epochs"]
        if "epoch" not in h:
            return h.get("step", i)
        epoch, start = h["epoch"], ends.get(h["epoch"] - 1, 0)
        if "step" in h and epoch in ends and ends[epoch] > start:
            return epoch + (h["step"] - start) / (ends[epoch] - start)
        return epoch + 1

    points = []
    for i, h in enumerate(history):
        y = h.get(metric)
        if isinstance(y, int | float) and math.isfinite(y):
            points.append((epochs_done(i, h), h.get("train_time_s", h.get("time_s", math.nan)), y))
    return points


@dataclass
class Series:
    """One curve of the report: a job's, or a seed group's mean with its band."""

    label: str
    epochs: list[float]
    seconds: list[float]
    values: list[float]
    finished: bool = True  # False: dashed, and kept out of the y range (a diverged curve may leave the frame)
    band: tuple[list[float], list[float]] | None = None


def job_series(jobs: list[Job], keys: list[str], metric: str) -> list[Series]:
    series = []
    for job, label in zip(jobs, labels(jobs, keys), strict=True):
        points = curve_points(job.history, metric)
        if points:
            epochs, seconds, ys = (list(v) for v in zip(*points, strict=True))
            series.append(Series(label, epochs, seconds, ys, finished=job.status == "ok"))
    return series


def group_series(jobs: list[Job], keys: list[str], metric: str) -> list[Series]:
    """Per seed group, the mean over its ok seeds at the epochs they all reached, with a band of ±1 std, or
    min-max where fewer than 3 seeds finished; the label counts the seeds that did not finish."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault(tuple(job.overrides.get(k, "") for k in keys), []).append(job)
    series = []
    for values, members in groups.items():
        ok = [j for j in members if j.status == "ok" and curve_points(j.history, metric)]
        name = " ".join(f"{k.rsplit('.', 1)[-1]}={short(v)}" for k, v in zip(keys, values, strict=True)) or "all"
        others = Counter(j.status for j in members if j.status != "ok")
        if not ok:
            continue
        frame = pd.DataFrame(
            [(j.name, x, t, y) for j in ok for x, t, y in curve_points(j.history, metric)],
            columns=["job", "epoch", "seconds", "value"],
        )
        reached = frame.groupby("epoch")["job"].nunique()
        shared = frame[frame["epoch"].isin(reached[reached == len(ok)].index)]  # epochs every seed reached
        stats = shared.groupby("epoch").agg(mean=("value", "mean"), std=("value", "std"), low=("value", "min"))
        stats["high"] = shared.groupby("epoch")["value"].max()
        stats["seconds"] = shared.groupby("epoch")["seconds"].mean()
        wide = len(ok) >= 3
        band = (stats["mean"] - stats["std"], stats["mean"] + stats["std"]) if wide else (stats["low"], stats["high"])
        extra = "".join(f", {n} {status}" for status, n in sorted(others.items()))
        label = f"{name} (n={len(ok)}{extra}, {'±1 std' if wide else 'min-max'})"
        epochs = list(stats.index)
        series.append(Series(label, epochs, list(stats["seconds"]), list(stats["mean"]), True, tuple(map(list, band))))
    return series


RUN_CURVES = ("train/loss", "val/loss", "train/acc", "val/acc")  # what the book's Animator draws, where recorded


def curve_label(metric: str, validate_on: str = "heldout") -> str:
    """A metric's name in a legend or on an axis: `val/` scores of a run that validated on the test images
    (`data.validate_on=test`, the book's protocol) say so, as the book's own legend says `test acc`."""
    return f"{metric} (test images)" if validate_on == "test" and metric.startswith("val/") else metric


def run_figure(history: list[dict], title: str | None = None, validate_on: str = "heldout") -> Figure:
    """One run's curves against epoch, as the book's Animator draws them: train and val loss (and accuracy).
    Fixed margins, not a layout engine: the live plot redraws it at every validation (update_run_figure).
    `validate_on`: the data's `validate_on`; under `test` the val curves are labelled as the test images'."""
    fig = Figure(figsize=(5.5, 3.5))
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.14, top=0.91 if title else 0.96)
    ax = fig.add_subplot()
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title, fontsize=8)
    update_run_figure(fig, history, validate_on)
    return fig


def update_run_figure(fig: Figure, history: list[dict], validate_on: str = "heldout") -> None:
    """Redraw run_figure's curves from a longer history, in place: no new Figure, axes or legend entries."""
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    for metric in RUN_CURVES:
        if any(metric in record for record in history):
            points = curve_points(history, metric)
            xs, ys = [p[0] for p in points], [p[2] for p in points]
            label = curve_label(metric, validate_on)
            if label in lines:
                lines[label].set_data(xs, ys)
            else:
                ax.plot(xs, ys, marker="o", markersize=3, label=label, color=f"C{RUN_CURVES.index(metric)}")
                ax.legend(fontsize=8)
    ax.relim()
    ax.autoscale_view()


def plot_curves(
    series: list[Series], metric: str, path: Path, title: str | None = None, validate_on: str = "heldout"
) -> Path | None:
    """curves_figure, saved to `path`; None where there is no curve."""
    if not series:
        return None
    curves_figure(series, metric, title, validate_on).savefig(path, dpi=120)
    return path


def curves_figure(series: list[Series], metric: str, title: str | None = None, validate_on: str = "heldout") -> Figure:
    """Two panels like the book's minibatch-SGD figure: the metric per epoch and against training time.
    `validate_on`: the jobs' data's `validate_on`; under `test` a val metric is labelled as the test images'."""
    fig = Figure(figsize=(13, 4.5), layout="constrained")
    by_epoch, by_time = fig.subplots(1, 2)
    kept = []  # the y values of curves that finished: diverged curves may leave the frame
    palette = colormaps["tab20" if len(series) > 10 else "tab10"]
    for i, curve in enumerate(series):
        style = {"marker": "o", "markersize": 3, "linestyle": "-" if curve.finished else "--"}
        style["color"] = palette(i % palette.N)
        by_epoch.plot(curve.epochs, curve.values, label=curve.label, **style)
        # The time axis is logarithmic: a point before any training (0 s) has no place on it.
        timed = [i for i, t in enumerate(curve.seconds) if t > 0]
        by_time.plot([curve.seconds[i] for i in timed], [curve.values[i] for i in timed], **style)
        # The frame fits the curves once training has begun; the loss before it may stand above, as in the book.
        trained = [i for i, e in enumerate(curve.epochs) if e > 0] or list(range(len(curve.epochs)))
        if curve.band is not None:
            by_epoch.fill_between(curve.epochs, *curve.band, color=style["color"], alpha=0.2, linewidth=0)
            low, high = ([side[i] for i in timed] for side in curve.band)
            by_time.fill_between([curve.seconds[i] for i in timed], low, high, color=style["color"], alpha=0.2,
                                 linewidth=0)  # fmt: skip
            kept += [v for side in curve.band for i in trained if math.isfinite(v := side[i])]
        kept += [curve.values[i] for i in trained] if curve.finished else []
    for ax in (by_epoch, by_time):
        ax.set_ylabel(curve_label(metric, validate_on))
        ax.grid(True, alpha=0.3)
        if kept and min(kept) > 0 and max(kept) / min(kept) > 3:  # a few bad jobs would flatten the rest
            ax.set_yscale("log")
        if kept:
            low, high = min(kept), max(kept)
            if ax.get_yscale() == "log":
                pad = (high / low) ** 0.05
                ax.set_ylim(low / pad, high * pad)
            else:
                pad = 0.05 * (high - low) + 1e-9
                ax.set_ylim(low - pad, high + pad)
    by_epoch.set_xlabel("epoch")
    by_epoch.xaxis.set_major_locator(MaxNLocator(integer=True))
    by_time.set_xlabel("training time (s), evaluation left out")
    by_time.set_xscale("log")  # the book's figure; a curve's first point, before any training, sits at 0, off it
    if series:
        fig.legend(loc="outside right upper", fontsize=7 if len(series) > 8 else 8)
    fig.suptitle(title or f"{curve_label(metric, validate_on)} of every job")
    return fig


def grid_keys(jobs: list[Job], varying: list[str]) -> tuple[str, str] | None:
    """The two varying keys (besides `seed` and `data.fold`) when the jobs cover a full grid over them, else None."""
    keys = group_keys(varying)
    if len(keys) != 2:
        return None
    rows, cols = ({j.overrides.get(k, "") for j in jobs} for k in keys)  # "": a job run without that key
    pairs = {(j.overrides.get(keys[0], ""), j.overrides.get(keys[1], "")) for j in jobs}
    seeds_vary = any(k in varying for k in REPLICATES)
    one_each = len(pairs) == len(jobs)
    return (keys[0], keys[1]) if len(pairs) == len(rows) * len(cols) and (one_each or seeds_vary) else None


def axis_values(jobs: list[Job], key: str) -> list[str]:
    values = list(dict.fromkeys(j.overrides.get(key, "") for j in jobs))
    if all(as_number(v) is not None for v in values):
        return sorted(values, key=as_number)
    return values


def cell_text(members: list[Job]) -> tuple[float, str]:
    """A cell's value (the mean best over its ok jobs) and its text: the value, ± the std over seeds, or the
    status of its jobs when none finished."""
    bests = [j.best for j in members if math.isfinite(j.best)]
    if not bests:
        return math.nan, Counter(j.status for j in members).most_common(1)[0][0]
    mean = sum(bests) / len(bests)
    if len(members) == 1:
        return mean, f"{mean:.4g}"
    std = pd.Series(bests).std()
    lost = len(members) - len(bests)
    return mean, f"{mean:.4g}" + (f"\n±{std:.2g}" if len(bests) > 1 else "") + (f"\n({lost} lost)" if lost else "")


def plot_heatmap(jobs: list[Job], keys: tuple[str, str], monitor: str, mode: str, path: Path) -> Path:
    """The best monitored value per grid cell, the mean over seeds ± their std when seeds vary; cells with no
    finished job are grey and say why."""
    rows, cols = axis_values(jobs, keys[0]), axis_values(jobs, keys[1])
    cells: dict[tuple[str, str], list[Job]] = {}
    for job in jobs:
        cells.setdefault((job.overrides.get(keys[0], ""), job.overrides.get(keys[1], "")), []).append(job)
    texts = {rc: cell_text(members) for rc, members in cells.items()}
    grid = [[texts[r, c][0] for c in cols] for r in rows]
    seeds = any(len(m) > 1 for m in cells.values())
    finite = [v for line in grid for v in line if math.isfinite(v)]
    fig = Figure(figsize=(1.3 * len(cols) + 3, (1.1 if seeds else 0.8) * len(rows) + 2), layout="constrained")
    ax = fig.subplots()
    cmap = colormaps["viridis_r" if mode == "min" else "viridis"].with_extremes(bad="lightgrey")
    spread = bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 10
    norm = LogNorm() if spread else Normalize()
    image = ax.imshow(grid, cmap=cmap, norm=norm)  # NaN cells (no value) take the cmap's grey
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            value, text = texts[r, c]
            red, green, blue, _ = image.cmap(image.norm(value)) if math.isfinite(value) else (1,) * 4
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # white text on dark cells
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(cols)), [short(c) or "-" for c in cols])  # "-": jobs run without the key
    ax.set_yticks(range(len(rows)), [short(r) or "-" for r in rows])
    ax.set_xlabel(keys[1])
    ax.set_ylabel(keys[0])
    what = f"best {monitor}" + (", mean ± std over seeds" if seeds else "")
    fig.colorbar(image, ax=ax, label=what)
    ax.set_title(f"{what} ({mode})")
    fig.savefig(path, dpi=120)
    return path
