"""d2lab's benchmark: framework overhead (a), data pipeline (b), training throughput (c), start-up, pruning,
sweeps on one machine and through Slurm, side by side.

Each figure is the median of several repeats; each section prints as it finishes and all go to one Markdown file
that names the machine. On a CPU-only machine (c) is a short smoke measurement, labelled so; with a GPU it is
the real one (bf16, channels_last, torch.compile, against a hand-written loop on the same device).

    python scripts/benchmark.py                         # everything, ~5-8 min on a 2-core CPU
    python scripts/benchmark.py --quick                 # fewer repeats, (c) BN-LeNet only on CPU
    python scripts/benchmark.py --sections c --out /tmp/gpu.md
"""

import argparse
import contextlib
import datetime
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_RAW = REPO.parent / "shared" / "data" / "FashionMNIST" / "raw"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TARGETS_C = {"lenet": 300_000, "resnet18": 40_000, "densenet": 30_000}  # images/s on an H100
NAMES_C = {"lenet": "BN-LeNet (28 px)", "resnet18": "ResNet-18 (96 px)", "densenet": "DenseNet (96 px)"}


def machine() -> dict:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "gpu": gpu}


def machine_line(info: dict) -> str:
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    gpu = info["gpu"] or "no GPU"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())  # a shared machine's other work skews every figure
    return (
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, {gpu}. Date: {date}. "
        f"Load average (1, 5, 15 min) at the start: {load}."
    )


def ensure_fashion_mnist(data_dir: Path) -> str:
    """`data_dir/FashionMNIST/raw/` with the four .gz files: the real ones (linked from ../shared/data when
    present) or, failing that, generated ones of the same size. Returns which."""
    raw = data_dir / "FashionMNIST" / "raw"
    if all((raw / f"{name}.gz").is_file() or (raw / name).is_file() for name in FILES):
        return "generated" if (raw / ".generated").exists() else "real"
    raw.mkdir(parents=True, exist_ok=True)
    if SHARED_RAW.is_dir():
        for name in FILES:  # links, never writes into the shared folder: unpacking happens beside the links
            if not (raw / f"{name}.gz").exists():
                (raw / f"{name}.gz").symlink_to(SHARED_RAW / f"{name}.gz")
        return "real"
    # Same sizes and format as the real set (IDX, uint8), random pixels: timing does not care about content.
    generator = torch.Generator().manual_seed(0)
    for name, shape in zip(FILES, ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,)), strict=True):
        high = 10 if len(shape) == 1 else 256
        array = torch.randint(0, high, shape, generator=generator, dtype=torch.uint8)
        header = bytes([0, 0, 0x08, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
        (raw / f"{name}.gz").write_bytes(gzip.compress(header + array.numpy().tobytes(), compresslevel=1))
    (raw / ".generated").touch()
    return "generated"


def median_of(fn, repeats: int) -> tuple[float, list[float]]:
    values = [fn() for _ in range(repeats)]
    return statistics.median(values), values


# ---------------------------------------------------------------- (a) framework overhead
def section_a(repeats: int, epochs: int) -> str:
    from bench_overhead import measure, table

    rows = measure([1, 10, 100], epochs=epochs, repeats=repeats)
    verdicts = []
    for r in rows:  # issue 25: ≤ 1.3×, or within 1.1× of a bare LightningModule that is itself above 1.2×
        target = 1.3 if r["bare_ratio"] <= 1.2 else max(1.3, 1.1 * r["bare_ratio"])
        verdicts.append(
            f"batch {r['batch_size']}: {r['ratio']:.2f}× (target ≤ {target:.2f}×, "
            f"{'met' if r['ratio'] <= target else 'MISSED'})"
        )
    return "\n".join(
        [
            "## (a) Framework overhead: LinearNet on airfoil, seconds per training epoch",
            "",
            f"d2lab's own `train()` (composed config, Lightning Trainer, logging, checkpoints and validation off) "
            "against a hand-written PyTorch loop doing the same SGD steps on the same batches. d2lab's epoch is timed "
            "from the outside, from one `on_train_epoch_start` to the next, so all of Lightning's per-epoch work "
            f"counts. {repeats} repeats of at least {epochs} epochs each, more for small batches so that a repeat "
            "times ~0.5 s of raw work (`epochs per repeat`); each repeat's first epoch warms up. Seconds per epoch "
            "are the median over repeats of each repeat's median. The ratio is taken within each repeat, where the "
            "raw loop and d2lab run back to back, so a shared machine's drift cancels; the table gives its median "
            "and, beside it, the range over repeats. "
            "`1 step per Lightning step` is d2lab with `data.steps_per_call=1` (automatic optimization, Lightning's "
            "standard loop), for reference. `no training work` is d2lab with a training step that does nothing "
            "(Lightning's loop and hooks, d2lab's epoch-end metrics, and the batch slicing the raw loop also does). "
            "The `bare LightningModule` column is the least any LightningModule costs here: the raw loop's steps "
            "for a whole epoch in one `training_step` on the bare torch optimizer, with no metrics and `global_step` "
            "left uncounted. "
            "Beside it, d2lab's own run with its steps on the bare torch optimizer too "
            "(`optimizers(use_pl_optimizer=False)`): what Lightning's optimizer wrapper costs, the wrapper that "
            "counts `global_step`, which d2lab needs (max_steps, the step axis of every curve, resume).",
            "",
            table(rows),
            "",
            "Targets: ≤ 1.3× at every batch size, or, where the bare LightningModule is itself above 1.2×, within "
            "1.1× of it. " + "; ".join(verdicts) + ".",
        ]
    )


# ---------------------------------------------------------------- the costs the fast path's code avoids
def section_costs() -> str:
    from bench_costs import table

    return "\n".join(
        [
            "## Costs that shape the fast path, µs per call",
            "",
            "Each pair is the way d2lab's code takes and the way it avoids, run interleaved in one process (median "
            "of 30 rounds). The optimizer-step rows run inside a real `Trainer.fit` on LinearNet at batch 10: the "
            "grouped path steps Lightning's optimizer (so `global_step` counts every step) and, on one device at a "
            "precision without loss scaling and with no backward hooks, calls autograd's backward rather than "
            "`manual_backward` (`d2lab.tasks.grouped.can_skip_backward_hooks`). On that path epoch metrics are "
            "published by hand instead of through `self.log` (scripts/bench_epoch_logging.py); an in-memory "
            "batch already on the device is not walked by Lightning's `move_data_to_device`; an epoch's minibatches "
            "are cut by `split()`; the step looks the net up once per call. The Adam rows step LinearNet's "
            "parameters with the CUDA check Lightning's import sets (NVML, looked for again at every step of Adam, "
            "RMSprop, Adadelta and other torch optimizers) and with torch's cached one, which d2lab puts back where "
            "no GPU is visible (`d2lab/job/cuda_check.py`) (`python scripts/bench_costs.py`).",
            "",
            table(),
        ]
    )


# ---------------------------------------------------------------- (b) data pipeline
def section_b(data_dir: str, repeats: int, source: str) -> str:
    from bench_data import book_images_per_s, d2lab_images_per_s

    # Each repeat is the best of a few passes (bench_data's own choice: a shared CPU's other work only slows
    # a pass down), then the median over repeats, for both pipelines alike.
    ours, ours_all = median_of(lambda: d2lab_images_per_s(data_dir, epochs=3), repeats)
    lines = [
        "## (b) Data pipeline: Fashion-MNIST training batches of 256, images/s (CPU)",
        "",
        f"d2lab's in-memory data module (shuffle, slice, batch-wide scaling) against the book's "
        f"`DataLoader(FashionMNIST(transform=ToTensor()), shuffle=True)` over 10240 images, worker start-up "
        f"included. Each figure: the median of {repeats} repeats, each the best of 3 epochs (d2lab) or 2 passes "
        f"(DataLoader); {source} IDX files.",
        "",
        "| pipeline | images/s | d2lab is |",
        "| --- | --- | --- |",
        f"| d2lab in-memory | {ours:,.0f} | 1.0× |",
    ]
    ratios = []
    for workers in (0, 2):
        book, _ = median_of(lambda w=workers: book_images_per_s(data_dir, num_workers=w, repeats=2), repeats)
        ratios.append(ours / book)
        lines.append(f"| torchvision ToTensor DataLoader, {workers} workers | {book:,.0f} | **{ours / book:,.0f}×** |")
    met = "met" if min(ratios) >= 50 else "MISSED"
    lines += ["", f"Target: ≥ 50× the ToTensor pipeline: {met} (lowest {min(ratios):,.0f}×)."]
    lines.append(f"d2lab's repeats: {', '.join(f'{v:,.0f}' for v in ours_all)} images/s.")
    return "\n".join(lines)


# ---------------------------------------------------------------- (c) training throughput
def section_c(data_dir: str, repeats: int, quick: bool, rows_file: str | None = None) -> str:
    from bench_throughput import d2lab_images_per_s, hand_images_per_s

    gpu = torch.cuda.is_available()
    if gpu:
        models = list(TARGETS_C)
        variants = ["fp32", "bf16", "bf16+cl", "bf16+cl+compile"]
        hand_variants = {"fp32", "bf16+cl", "bf16+cl+compile"}
        steps = {"lenet": 100, "resnet18": 50, "densenet": 50}
        accelerator, device = "gpu", "cuda"
    else:  # a smoke measurement: one fp32 configuration, a few batches, enough to see the loop runs
        models = ["lenet"] if quick else list(TARGETS_C)
        variants, hand_variants = ["fp32"], {"fp32"}
        steps = {"lenet": 10, "resnet18": 1, "densenet": 1}  # a 96 px batch of 256 takes seconds on 2 cores
        accelerator, device = "cpu", "cpu"
    rows = []
    for model in models:
        for variant in sorted(variants, key=lambda v: "compile" in v):  # compiled runs last: they warm caches
            n = 1 if "compile" in variant else repeats  # a compile costs tens of seconds; one is enough
            ours, _ = median_of(
                lambda m=model, v=variant: d2lab_images_per_s(m, v, data_dir, steps[m], accelerator)["images_per_s"],
                n,
            )
            hand = None
            if variant in hand_variants:
                hand, _ = median_of(
                    lambda m=model, v=variant: hand_images_per_s(
                        m, v, data_dir, steps[m], device, warmup=3 if gpu else 1
                    )["images_per_s"],
                    n,
                )
            rows.append({"model": model, "variant": variant, "d2lab": ours, "hand": hand})
            print(json.dumps(rows[-1]), flush=True)
            if rows_file:  # partial results survive a run cut off by a time limit
                with Path(rows_file).open("a") as f:
                    f.write(json.dumps(rows[-1]) + "\n")
    title = "H100-class GPU" if gpu else "CPU smoke measurement, not a throughput figure"
    lines = [
        f"## (c) Training throughput, images/s ({title})",
        "",
        f"Device: {machine()['gpu'] or 'CPU'}. d2lab's `train()` on the book preset (`trainer=gpu` settings, "
        "validation off), timed over its second epoch of "
        + ", ".join(f"{steps[m]} batches of 256 for {m}" for m in models)
        + "; the hand-written loop runs the same net, data, transform and SGD on the same device. "
        f"Median of {repeats} repeats (compiled variants: 1). Variants: bf16 = bf16-mixed autocast, "
        "cl = channels_last, compile = torch.compile of the net.",
        "",
        "| model | variant | d2lab images/s | hand-written images/s | d2lab / hand | H100 target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        hand = f"{r['hand']:,.0f}" if r["hand"] else "—"
        ratio = f"{r['d2lab'] / r['hand']:.2f}" if r["hand"] else "—"
        target = f"{TARGETS_C[r['model']]:,}" if gpu else f"({TARGETS_C[r['model']]:,} on H100)"
        lines.append(f"| {NAMES_C[r['model']]} | {r['variant']} | {r['d2lab']:,.0f} | {hand} | {ratio} | {target} |")
    lines += [
        "",
        "Targets on an H100: BN-LeNet 300k, ResNet-18@96 40k, DenseNet@96 30k images/s, and d2lab within 10% "
        "of the hand-written loop (d2lab / hand ≥ 0.90)."
        + ("" if gpu else " A 2-core CPU says nothing about these; this table only shows the path runs."),
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- start-up
def section_startup(repeats: int) -> str:
    """`python -m d2lab.train` as `make train` runs it, in a fresh process each time; `time/first_step_s` is
    measured inside the run from the process's own start time (/proc/self/stat) to the first training batch."""
    first, wall = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "d2lab.train", f"hydra.run.dir={out}", "trainer.enable_progress_bar=false"],
                cwd=REPO,
                check=True,
                capture_output=True,
            )
            wall.append(time.perf_counter() - start)
            first.append(json.loads((Path(out) / "metrics.json").read_text())["time/first_step_s"])
    median_first = statistics.median(first)
    return "\n".join(
        [
            "## Start-up: the default `make train` run",
            "",
            f"`python -m d2lab.train` (the book's linear regression, 3 epochs, TensorBoard and checkpoints on), a "
            f"fresh process each time, median of {repeats}. Process start to the first training step "
            "(`time/first_step_s` in metrics.json): "
            f"**{median_first:.2f} s** (target ≤ 10 s: {'met' if median_first <= 10 else 'MISSED'}); whole run, "
            f"process start to exit: {statistics.median(wall):.2f} s. Runs: "
            + ", ".join(f"{f:.2f}" for f in first)
            + " s to the first step.",
        ]
    )


def section_pruning(data_dir: str, trials: int) -> str:
    from bench_pruning import table

    return "\n".join(
        [
            "## Optuna pruning: the same search with and without it",
            "",
            f"One seeded TPE search of {trials} trials with `hydra/sweeper/pruner=none`, then the same with `median`, "
            "each in one fresh process (`python scripts/bench_pruning.py`). Wall time includes start-up; the best "
            "value is the search's best val/loss (airfoil, lower is better) or val/acc (BN-LeNet, higher is better).",
            "",
            table(trials, data_dir),
        ]
    )


def section_sweeps(repeats: int) -> str:
    from bench_sweeps import measure, table

    return "\n".join(
        [
            "## Sweeps on one machine: the 12-job airfoil grid, 3 epochs a job",
            "",
            "`python -m d2lab.train -m data=airfoil trainer.max_epochs=3 optimizer.lr=0.01,0.03,0.1 "
            "data.batch_size=10,100 seed=0,1` with the basic launcher, then with `hydra/launcher=joblib` (Hydra's: "
            "loky workers, each a fresh Python) and `hydra/launcher=parallel` (d2lab's: workers forked from the "
            "sweep's process once it has imported torch and Lightning), both at `hydra.launcher.n_jobs=2`. Each is "
            f"a fresh process into a fresh folder, timed from the outside; after one untimed sweep, {repeats} repeats, "
            "each running the launchers back to back, and each ratio taken within one repeat "
            "(`python scripts/bench_sweeps.py`). "
            "Every sweep runs under `python -X importtime` (about 2% slower); the import is what the basic "
            "launcher's process spent importing (the imports column: each sweep's own process; loky's workers are "
            "not counted there). A job's "
            "clock runs from Hydra saving its `.hydra/config.yaml` to its `metrics.json`; its in-process time adds "
            "Hydra's set-up before that save (the basic launcher's median gap between one job's metrics.json and "
            "the next job's config); its fixed cost is that minus its `time/fit_s`, the median over jobs. "
            "Σ in-process is Σ `time/fit_s` plus the jobs' fixed costs (a worker's one-time imports, which its "
            "first job pays, are not a job's work). A parallel launcher's ideal is one import plus Σ in-process "
            "divided by n_jobs.",
            "",
            table(measure(repeats=repeats)[""]),
        ]
    )


def section_logging(repeats: int) -> str:
    from bench_epoch_logging import table

    return "\n".join(
        [
            "## Epoch metrics: Lightning's `self.log_dict` and the grouped path's hand path",
            "",
            "Tasks log their epoch metrics (`train/*` and `lr` at an epoch's end, `val/*` and `val/loss_best` at a "
            "validation, `test/*`) through `self.log_dict`, at `step` = optimizer steps so far. On the grouped fast "
            "path only (`GroupedTraining.log_epoch` in `d2lab/tasks/grouped.py`) they go by hand into "
            "`trainer.callback_metrics` and the loggers, at the same step with the same keys, because Lightning's "
            "logging costs several times a whole tiny epoch. LinearNet on airfoil at batch 100, one grouped step per "
            f"epoch that does no training work, 60 epochs, median of {repeats} interleaved pairs "
            "(`python scripts/bench_epoch_logging.py`). Compare the grouped epoch of section (a) at batch 100; the "
            "one-minibatch-per-step path (its `1 step per Lightning step` column) pays this cost.",
            "",
            table(repeats),
        ]
    )


def section_job_costs(repeats: int) -> str:
    from bench_job_costs import PARTS, measure, table

    return "\n".join(
        [
            "## A short job's fixed cost, part by part",
            "",
            "The 12-job airfoil grid of the sweeps section (3 epochs a job, basic launcher), whole and then without "
            f"one part at a time ({', '.join(PARTS)}), interleaved; a part's cost is the difference in the median "
            f"job's clock (config.yaml to metrics.json, as in the sweeps section), the median of {repeats} repeats "
            "(`python scripts/bench_job_costs.py`). metrics.json's write is timed in-process.",
            "",
            table(measure(repeats)[""]),
        ]
    )


def section_job_floor(repeats: int) -> str:
    from bench_job_floor import measure, table

    return "\n".join(
        [
            "## A short job's floor: Hydra and Lightning alone",
            "",
            "The 12-job airfoil grid (3 epochs a job, basic launcher) beside the same grid of a bare Hydra app "
            "(`scripts/job_floor_app.py`) at three levels: Hydra alone, whose job returns at once; plus a Lightning "
            "Trainer that fits, validates each epoch and tests, as its documentation shows; plus best.ckpt and "
            "last.ckpt each epoch. Each a fresh process timed from the outside, interleaved; a job's cost beyond its "
            "fit is (wall - import - Σ time/fit_s) / jobs, so the sweep's start and exit are shared out over its "
            "jobs (`python scripts/bench_job_floor.py`).",
            "",
            table(measure(repeats)),
        ]
    )


def section_trial_storage() -> str:
    from bench_trial_storage import measure, table

    return "\n".join(
        [
            "## A search's trial, found in its study",
            "",
            "What a job of an Optuna search pays to open the study and find its trial, as the study grows: the "
            "journal opened anew for each job (it is replayed from its first line) against the storage that a "
            "process's jobs share (`d2lab.sweeps.optuna_study.job_storage`, which reads only what is new, after "
            "checking by the file's inode, first line and size that it is the same journal). Trials written as "
            "`hparams_search=airfoil_optuna`'s are (three parameters, three reported values, the sweeper's two user "
            "attributes), median of 5 per size (`python scripts/bench_trial_storage.py`).",
            "",
            table(measure([20, 100, 500, 1000])),
        ]
    )


def section_search(repeats: int) -> str:
    from bench_search import measure, table

    return "\n".join(
        [
            "## An Optuna search on one machine: airfoil, 3 epochs a trial",
            "",
            "`python -m d2lab.train hparams_search=airfoil_optuna hydra.sweeper.n_trials=N` with the basic launcher "
            "and with `hydra/launcher=parallel hydra.launcher.n_jobs=2`, which keeps two trials running on two "
            "warm workers, asking Optuna for the next trial as soon as one ends (`python scripts/bench_search.py`). "
            "Clocks as in the sweeps section; the gaps are each worker's idle seconds between one trial's "
            "metrics.json and its next trial's config.",
            "",
            table(measure([40, 100], repeats)[""]),
        ]
    )


def section_book(repeats: int) -> str:
    from bench_book_cadence import measure, table

    return "\n".join(
        [
            "## The book's minibatch-SGD comparison at the book's cadence",
            "",
            "`python -m d2lab.train experiment=d2l_minibatch_sgd` (GD, SGD, batches of 10 and 100 on airfoil; the "
            "loss every 200 examples and before training) against the book's own code for the same four runs "
            "(`scripts/book_minibatch_sgd.py`, written from the book's listing of `train_ch11`), without drawing "
            "and drawing each point as a notebook does, and against the same sweep with one point per validation. "
            f"Each a fresh process timed from the outside; after one untimed round, {repeats} rounds, each running "
            "all of them back to back, each ratio within one round (`python scripts/bench_book_cadence.py`).",
            "",
            table(measure(repeats)),
        ]
    )


def section_animator(data_dir: str, repeats: int) -> str:
    from bench_train_points import measure, table

    return "\n".join(
        [
            "## The Animator's view: BN-LeNet's training curve 5 times an epoch",
            "",
            "`python -m d2lab.train experiment=d2l_batch_norm data.train_size=30000 trainer.max_epochs=2` with the "
            "image presets' `callbacks.curve.train_points_per_epoch=5` and with it off, alternating, each a fresh "
            f"process, {repeats} of each (`python scripts/bench_train_points.py`). A point is the running means of "
            "the epoch so far: no forward pass, no validation.",
            "",
            table(measure(data_dir, repeats)),
        ]
    )


def section_slurm() -> str:
    from bench_slurm import table

    title = "## Sweeps through Slurm: the local cluster of `scripts/slurm_local.sh`"
    if os.geteuid() != 0 and not os.environ.get("SLURM_CONF"):
        return f"{title}\n\nSkipped: starting the local cluster needs root, and no $SLURM_CONF names another."
    return "\n".join(
        [
            title,
            "",
            "Each sweep with the basic launcher (or, for DDP, Lightning launching its second process) and then with "
            "`hydra/launcher=slurm_cpu`, one after the other, each a fresh process into a fresh folder, timed from "
            "the outside (`python scripts/bench_slurm.py`). Through Slurm every job is its own process, which "
            "imports torch and Lightning, and at most as many jobs run at once as the node has CPUs.",
            "",
            table(),
        ]
    )


def section_live_plot(data_dir: str, repeats: int) -> str:
    from bench_live_plot import measure, table

    return "\n".join(
        [
            "## The notebook's live plot",
            "",
            "The same `d2lab.run` with `live_plot=True` and `live_plot=False`, alternating, in one real Jupyter kernel "
            "(started by jupyter_client, as Jupyter starts one; the plot is a PNG output updated in place), after one "
            "untimed run of each (`python scripts/bench_live_plot.py`). The fit is where the drawing happens; the "
            "whole `d2lab.run` call adds composing, building, the test and metrics.json.",
            "",
            table(measure(repeats, data_dir)),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sections = [
        "a", "costs", "logging", "b", "c", "startup", "pruning", "sweeps", "search", "trial_storage", "job_costs",
        "job_floor", "book", "animator", "slurm", "live_plot",
    ]  # fmt: skip
    parser.add_argument("--sections", nargs="+", default=sections, choices=sections)
    parser.add_argument("--quick", action="store_true", help="fewer repeats; on CPU, (c) for BN-LeNet only")
    parser.add_argument(
        "--repeats", type=int, help="repeats per figure (default 3, --quick 1; (a) 5, --quick 2; (c) on GPU 2)"
    )
    parser.add_argument("--data-dir", default=str(REPO / "data"), help="holds FashionMNIST/raw/ (linked if absent)")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--rows", help="also append each (c) result as a JSON line to this file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench_* scripts beside this one
    repeats = args.repeats or (1 if args.quick else 3)
    info = machine()
    print(machine_line(info), flush=True)
    needs_data = {"b", "c", "pruning", "animator", "live_plot"} & set(args.sections)
    source = ensure_fashion_mnist(Path(args.data_dir)) if needs_data else ""
    parts = [
        "# d2lab benchmarks",
        "",
        machine_line(info),
        "",
        f"Written by `python scripts/benchmark.py {' '.join(sys.argv[1:])}`".rstrip() + " (also `make bench`).",
    ]
    started = time.perf_counter()
    for name in args.sections:
        t0 = time.perf_counter()
        if name == "a":
            # (a)'s rows are short and the machine's noise is not: more repeats than the other sections.
            text = section_a(args.repeats or (2 if args.quick else 5), epochs=3 if args.quick else 5)
        elif name == "costs":
            text = section_costs()
        elif name == "logging":
            text = section_logging(repeats)
        elif name == "b":
            text = section_b(args.data_dir, repeats, source)
        elif name == "c":
            text = section_c(args.data_dir, args.repeats or (2 if info["gpu"] else 1), args.quick, args.rows)
        elif name == "pruning":
            text = section_pruning(args.data_dir, trials=10 if args.quick else 40)
        elif name == "sweeps":
            text = section_sweeps(repeats)
        elif name == "job_costs":
            text = section_job_costs(repeats)
        elif name == "job_floor":
            text = section_job_floor(repeats)
        elif name == "search":
            text = section_search(args.repeats or 1)
        elif name == "trial_storage":
            text = section_trial_storage()
        elif name == "book":
            text = section_book(repeats)
        elif name == "animator":
            text = section_animator(args.data_dir, repeats)
        elif name == "slurm":
            text = section_slurm()
        elif name == "live_plot":
            text = section_live_plot(args.data_dir, args.repeats or (2 if args.quick else 5))
        else:
            text = section_startup(repeats)
        print(f"\n{text}\n\n({name}: {time.perf_counter() - t0:.0f} s)", flush=True)
        parts += ["", text]
    parts += ["", f"Total benchmark time: {time.perf_counter() - started:.0f} s."]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(parts) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
