"""`make book`: the book's experiments that fit a CPU in minutes, run with d2lab's presets, written up as a gallery,
`docs/book.md`: for each, the book's section, the command, d2lab's figure, d2lab's numbers beside the book's, and
the time it took. ResNet-18 and DenseNet are listed with their GPU command and not run here.

    python scripts/book.py                               # all of them (several minutes on 2 cores), docs/book.md
    python scripts/book.py --quick --out /tmp/book.md    # 1 epoch on 1024 images: a smoke run, not the book's numbers

The book's numbers are the ones its PyTorch edition prints (d2l.ai, the section linked in each entry); where the book
shows only a figure, the gallery says so. A number of d2lab's outside the book's range is marked, not hidden.
"""

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from d2lab.report.jobs import Job, load_jobs, read_metrics
from d2lab.report.plots import run_figure

REPO = Path(__file__).resolve().parents[1]
SHARED_RAW = REPO.parent / "shared" / "data" / "FashionMNIST" / "raw"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
D2L = "https://d2l.ai/"


@dataclass
class Experiment:
    name: str  # file names in the gallery
    section: str  # the book's section, as it numbers it
    title: str
    url: str  # the section on d2l.ai
    overrides: list[str]
    metric: str  # the number compared with the book's
    book: tuple[float, float] | None  # the range the book prints, or None: a figure only
    book_says: str  # what the book prints, in words
    swept: str = ""  # a sweep: the key its jobs differ in, which names each job in the gallery
    images: bool = False  # Fashion-MNIST: --quick shrinks it
    differs: str = ""  # where d2lab differs from the book on purpose
    quick: list[str] = field(default_factory=list)


SEEDS, QUICK_SEEDS = 5, 2  # the _seeds presets' seeds, and what --quick runs of them
# The image chapters run the book's protocol, so that their numbers compare with the book's.
BOOK_PROTOCOL = ["data.validate_on=test", "test_ckpt=last"]
IMAGE_DIFFERENCES = (
    "The gallery runs the book's protocol (`data.validate_on=test test_ckpt=last`): train on all 60k images, "
    "evaluate on the 10k test images every epoch (the figure labels those curves `val/… (test images)`), report "
    "the last epoch. The preset alone instead validates on 10% of the training images and tests the checkpoint "
    "chosen there (`best.ckpt`), which keeps the test set unseen."
)
SEEDS_DIFFER = (
    "d2lab runs each configuration over {seeds} seeds (the preset's `_seeds` variant) and gives the mean ± std: the "
    "book's number is one random draw, and the range column judges the mean. d2lab also draws the loss before "
    "training."
)
EXPERIMENTS = [
    Experiment(
        "linear_regression",
        "3.4",
        "Linear regression from scratch",
        f"{D2L}chapter_linear-regression/linear-regression-scratch.html",
        ["experiment=d2l_linear_regression"],
        "w_error",
        None,
        "the errors in estimating w and b, which depend on its random draw; a figure of the loss",
        quick=["trainer.max_epochs=1"],
    ),  # fmt: skip
    Experiment(
        "softmax_regression",
        "4.5",
        "Softmax regression (concise)",
        f"{D2L}chapter_linear-classification/softmax-regression-concise.html",
        ["experiment=d2l_softmax_regression", *BOOK_PROTOCOL],
        "test/acc",
        (0.83, 0.85),
        "a test accuracy of about 0.83-0.85 after 10 epochs",
        images=True,
        differs=IMAGE_DIFFERENCES,
    ),  # fmt: skip
    Experiment(
        "minibatch_sgd",
        "12.5",
        "Minibatch SGD: GD, SGD and minibatches of 10 and 100",
        f"{D2L}chapter_optimization/minibatch-sgd.html",
        ["experiment=d2l_minibatch_sgd_seeds"],
        "val/loss",
        (0.242, 0.25),
        "final losses of 0.242-0.25 for each of the four runs",
        swept="minibatch",
        differs=SEEDS_DIFFER + " Full-batch GD at lr 1 sits at the edge of stability, so its last loss moves "
        "with the initial weights.",
        quick=["trainer.max_epochs=1", f"seed=range(0,{QUICK_SEEDS})"],
    ),  # fmt: skip
    Experiment(
        "optimizers",
        "12.6-12.10",
        "The optimizers on airfoil: SGD, momentum, Adagrad, RMSProp, Adadelta, Adam",
        f"{D2L}chapter_optimization/index.html",
        ["experiment=optimizers_on_airfoil_seeds"],
        "val/loss",
        (0.242, 0.25),
        "final losses of about 0.242-0.25 for each optimizer",
        swept="book_optimizer",
        differs=SEEDS_DIFFER,
        quick=["trainer.max_epochs=1", f"seed=range(0,{QUICK_SEEDS})"],
    ),  # fmt: skip
    Experiment(
        "schedules",
        "12.11",
        "Learning-rate schedules",
        f"{D2L}chapter_optimization/lr-scheduler.html",
        ["experiment=schedules"],
        "val/loss",
        None,
        "figures of LeNet on Fashion-MNIST under each schedule",
        swept="scheduler",
        differs="d2lab runs the schedules on airfoil (linear regression, seconds on a CPU), not on LeNet and "
        "Fashion-MNIST, so its numbers are not the book's.",
        quick=["trainer.max_epochs=2"],
    ),  # fmt: skip
    Experiment(
        "batch_norm",
        "8.5.4",
        "BN-LeNet, BatchNorm from scratch",
        f"{D2L}chapter_convolutional-modern/batch-norm.html",
        ["experiment=d2l_batch_norm", *BOOK_PROTOCOL],
        "test/acc",
        (0.81, 0.87),
        "a test accuracy of about 0.81-0.87 after 10 epochs",
        images=True,
        differs=IMAGE_DIFFERENCES,
    ),  # fmt: skip
    Experiment(
        "batch_norm_concise",
        "8.5.5",
        "BN-LeNet with nn.BatchNorm",
        f"{D2L}chapter_convolutional-modern/batch-norm.html",
        ["experiment=d2l_batch_norm_concise", *BOOK_PROTOCOL],
        "test/acc",
        (0.81, 0.87),
        "a test accuracy of about 0.81-0.87 after 10 epochs",
        images=True,
        differs=IMAGE_DIFFERENCES,
    ),  # fmt: skip
]
GPU_ONLY = [
    ("8.6", "ResNet-18", f"{D2L}chapter_convolutional-modern/resnet.html", "experiment=d2l_resnet trainer=gpu"),
    ("8.7", "DenseNet", f"{D2L}chapter_convolutional-modern/densenet.html", "experiment=d2l_densenet trainer=gpu"),
]


def link_fashion_mnist(data_dir: Path) -> None:
    """Links to the shared copy's .gz files where data_dir has none (they are unpacked beside the links)."""
    raw = data_dir / "FashionMNIST" / "raw"
    if all((raw / f"{n}.gz").exists() or (raw / n).exists() for n in FILES) or not SHARED_RAW.is_dir():
        return
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if not (raw / f"{name}.gz").exists():
            (raw / f"{name}.gz").symlink_to(SHARED_RAW / f"{name}.gz")


def run(experiment: Experiment, folder: Path, data_dir: Path, quick: bool) -> tuple[list[Job], float]:
    """The experiment's jobs, read as the report reads them, and the wall seconds of its command."""
    overrides = [*experiment.overrides, f"paths.data_dir={data_dir}", "~logger", "print_config=false"]
    if quick:
        overrides += experiment.quick + (["data.train_size=1024", "trainer.max_epochs=1"] if experiment.images else [])
    where = f"hydra.sweep.dir={folder}" if experiment.swept else f"hydra.run.dir={folder}"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "d2lab.train", *overrides, where, "trainer.enable_progress_bar=false"],
                          cwd=REPO, capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{experiment.name} failed:\n{done.stderr[-3000:]}")
    if experiment.swept:
        return load_jobs(folder), seconds
    return [Job("run", folder, {}, read_metrics(folder / "metrics.json"))], seconds


def figure(experiment: Experiment, folder: Path, jobs: list[Job], image: Path) -> None:
    """A sweep's figure is its report's; a single run's is its curves, as the live plot draws them."""
    if experiment.swept:
        subprocess.run([sys.executable, "-m", "d2lab.report", str(folder)], cwd=REPO, check=True, capture_output=True)
        shutil.copy(folder / "loss_curves.png", image)
        return
    title, validate_on = f"{experiment.section} {experiment.title}", jobs[0].metrics.get("validate_on", "heldout")
    run_figure(jobs[0].history, title, validate_on).savefig(image, dpi=110)


def numbers(experiment: Experiment, jobs: list[Job]) -> tuple[str, str | None]:
    """d2lab's numbers as the gallery prints them, and whether all lie in the book's range (None: it has none).
    A sweep over seeds gives each configuration's mean ± std, and the mean is what meets the book's range."""
    if experiment.name == "linear_regression":
        metrics = jobs[0].metrics
        return f"max \\|error\\| in w {metrics['w_error']:.1e}, in b {metrics['b_error']:.1e}", None
    groups: dict[str, list[float]] = {}
    for job in jobs:
        label = job.overrides.get(experiment.swept, f"job {job.name}") if experiment.swept else experiment.metric
        groups.setdefault(label, []).append(job.metrics.get(experiment.metric, math.nan))  # a failed job has none
    means = {label: statistics.fmean(values) for label, values in groups.items()}
    inside = None
    if experiment.book is not None:
        low, high = experiment.book
        outside = [f"{label} {v:.3f} is {'above' if v > high else 'below' if v < low else 'missing'}"
                   for label, v in means.items() if not low <= v <= high]  # fmt: skip
        inside = "**no**: " + ", ".join(outside) if outside else "yes"
    shown = [f"{label} {means[label]:.3f}" + (f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else "")
             for label, values in groups.items()]  # fmt: skip
    return ", ".join(shown), inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1024 images: a smoke run")
    parser.add_argument("--only", nargs="+", choices=[e.name for e in EXPERIMENTS], help="a subset")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data", help="holds FashionMNIST/raw/")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "book.md")
    args = parser.parse_args()
    link_fashion_mnist(args.data_dir)
    images = args.out.parent / "img" / "book"
    images.mkdir(parents=True, exist_ok=True)
    chosen = [e for e in EXPERIMENTS if not args.only or e.name in args.only]
    lines = [
        "# d2lab beside the book",
        "",
        "Written by `python scripts/book.py" + (" --quick" if args.quick else "") + "` (also `make book`): each of the "
        "book's experiments that fits a CPU in minutes, run with its d2lab preset (the minibatch-SGD and optimizer "
        f"comparisons over {QUICK_SEEDS if args.quick else SEEDS} seeds, the image chapters under the book's protocol)"
        + (" in a reduced form (1 epoch, 1024 images: these are not the book's numbers)" if args.quick else "")
        + ". The book's numbers are those its PyTorch edition prints in the section linked.",
        "",
        "| section | experiment | d2lab | the book | in the book's range | time |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    entries = []
    for experiment in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            jobs, seconds = run(experiment, Path(tmp) / "run", args.data_dir.resolve(), args.quick)
            image = images / f"{experiment.name}.png"
            figure(experiment, Path(tmp) / "run", jobs, image)
        text, inside = numbers(experiment, jobs)
        verdict = inside or "-"
        book = f"{experiment.book[0]}-{experiment.book[1]}" if experiment.book else "a figure"
        lines.append(f"| [{experiment.section}]({experiment.url}) | {experiment.title} | {text} | {book} | {verdict} | "
                     f"{seconds:.0f} s |")  # fmt: skip
        command = " ".join(["python -m d2lab.train", *experiment.overrides])
        entries += [
            "",
            f"## {experiment.section} {experiment.title}",
            "",
            f"`{command}` ({seconds:.0f} s here, {len(jobs)} job{'s' if len(jobs) > 1 else ''})",
            "",
            f"![{experiment.title}]({image.relative_to(args.out.parent).as_posix()})",
            "",
            f"d2lab: {text}. The book ([{experiment.section}]({experiment.url})): {experiment.book_says}."
            + (
                f" {experiment.differs.format(seeds=QUICK_SEEDS if args.quick else SEEDS)}"
                if experiment.differs
                else ""
            ),
        ]
        print(f"{experiment.section} {experiment.name}: {text} ({seconds:.0f} s)", flush=True)
    for section, title, url, command in GPU_ONLY:
        lines.append(f"| [{section}]({url}) | {title} | not run here: `python -m d2lab.train {command}` | - | - | - |")
    args.out.write_text("\n".join([*lines, *entries]) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
