"""The report's pictures: every job's curve against epoch and wall time, and a heat map for a 2-D grid."""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, safe in a headless sweep or CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from d2lab.report_jobs import Job, as_number, short  # noqa: E402


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

    A record of a validation inside an epoch (trainer.val_check_interval) sits at its fraction of the epoch,
    found from the optimizer steps at the epochs' ends."""
    if not any(metric in h for h in history):
        metric = "train/loss"
    ends = {h["epoch"]: h["step"] for h in history if "epoch_s" in h and "step" in h and "epoch" in h}

    def epochs_done(i: int, h: dict) -> float:
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
            points.append((epochs_done(i, h), h.get("time_s", math.nan), y))
    return points


def plot_curves(jobs: list[Job], keys: list[str], metric: str, path: Path) -> Path | None:
    """Two panels like the book's minibatch-SGD figure: the metric per epoch and against training time."""
    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
    kept = []  # the y values of jobs that finished: diverged curves may leave the frame
    palette = plt.get_cmap("tab20" if len(jobs) > 10 else "tab10")
    for i, (job, label) in enumerate(zip(jobs, labels(jobs, keys), strict=True)):
        points = curve_points(job.history, metric)
        if not points:
            continue
        epochs, seconds, ys = zip(*points, strict=True)
        style = {"marker": "o", "markersize": 3, "linestyle": "-" if job.status == "ok" else "--"}
        style["color"] = palette(i % palette.N)
        by_epoch.plot(epochs, ys, label=label, **style)
        by_time.plot(seconds, ys, **style)
        kept += ys if job.status == "ok" else []
    if not by_epoch.lines:
        plt.close(fig)
        return None
    for ax in (by_epoch, by_time):
        ax.set_ylabel(metric)
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
    by_time.set_xlabel("wall time of training (s)")
    by_time.set_xscale("log")
    fig.legend(loc="outside right upper", fontsize=7 if len(jobs) > 8 else 8)
    fig.suptitle(f"{metric} of every job")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def grid_keys(jobs: list[Job], varying: list[str]) -> tuple[str, str] | None:
    """The two varying keys when the jobs form a full grid over them, else None."""
    if len(varying) != 2:
        return None
    rows, cols = ({j.overrides.get(k) for j in jobs} for k in varying)
    pairs = {(j.overrides.get(varying[0]), j.overrides.get(varying[1])) for j in jobs}
    return (varying[0], varying[1]) if len(pairs) == len(jobs) == len(rows) * len(cols) else None


def axis_values(jobs: list[Job], key: str) -> list[str]:
    values = list(dict.fromkeys(j.overrides[key] for j in jobs))
    if all(as_number(v) is not None for v in values):
        return sorted(values, key=as_number)
    return values


def plot_heatmap(jobs: list[Job], keys: tuple[str, str], monitor: str, mode: str, path: Path) -> Path:
    """The best monitored value per grid cell; failed and diverged cells are grey and say so."""
    rows, cols = axis_values(jobs, keys[0]), axis_values(jobs, keys[1])
    cell = {(j.overrides[keys[0]], j.overrides[keys[1]]): j for j in jobs}
    grid = [[cell[r, c].best for c in cols] for r in rows]
    finite = [v for line in grid for v in line if math.isfinite(v)]
    fig, ax = plt.subplots(figsize=(1.3 * len(cols) + 3, 0.8 * len(rows) + 2), layout="constrained")
    cmap = plt.get_cmap("viridis_r" if mode == "min" else "viridis").with_extremes(bad="lightgrey")
    spread = bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 10
    norm = LogNorm() if spread else Normalize()
    image = ax.imshow(grid, cmap=cmap, norm=norm)  # NaN cells (no value) take the cmap's grey
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            job = cell[r, c]
            text = f"{job.best:.4g}" if math.isfinite(job.best) else job.status
            red, green, blue, _ = image.cmap(image.norm(job.best)) if math.isfinite(job.best) else (1,) * 4
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # white text on dark cells
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(cols)), [short(c) for c in cols])
    ax.set_yticks(range(len(rows)), [short(r) for r in rows])
    ax.set_xlabel(keys[1])
    ax.set_ylabel(keys[0])
    fig.colorbar(image, ax=ax, label=f"best {monitor}")
    ax.set_title(f"best {monitor} ({mode})")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
