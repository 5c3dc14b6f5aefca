"""d2lab from Python, for notebooks and scripts: the same configs, code path and folders as the command line.

    import d2lab
    run = d2lab.run("data=airfoil", "optimizer.lr=0.05", seed=1)   # python -m d2lab.train data=airfoil ...
    run.status, run.metrics["val/loss"], run.history, run.plot()
    sweep = d2lab.sweep("experiment=d2l_minibatch_sgd_seeds")       # python -m d2lab.train -m ...
    sweep.summary, sweep.groups, sweep.plot()
    d2lab.load("logs/train/runs/2026-12-02_10-00-00")              # a Run or a Sweep, from its folder

`run` runs the job in this process (so the live plot draws into the notebook), through Hydra's own `compose`
and `run_job`; `sweep` runs the multirun as `python -m d2lab.train -m` in a child process, whose launcher and
sweeper may fork, spawn or submit to Slurm without touching the kernel. Bad input raises D2LabError with the
paragraph the command line prints; neither ever raises SystemExit.
"""

import collections
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from d2lab.errors import D2LabError
from d2lab.jupyter import in_notebook
from d2lab.results import Run, Sweep

CONFIG = "train"  # d2lab.train's config: the one a run and a sweep compose


def override_value(value: object) -> str:
    """A Python value in Hydra's override grammar: True -> true, None -> null, [1, 2] -> [1,2], {"a": 1} -> {a:1};
    a string is quoted unless Hydra would read it back as the same string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{override_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    plain = text and all(c.isalnum() or c in "._-/" for c in text) and not text[0].isdigit() and text[0] != "-"
    if plain and text.lower() not in ("true", "false", "null", "nan", "inf"):
        return text
    return "'" + text.replace("'", "\\'") + "'"  # Hydra: inside quotes only the quote needs its backslash


def as_overrides(overrides: tuple, options: dict[str, object], call: str) -> list[str]:
    """The positional overrides as typed, then each keyword as `key=value` (dotted keys: `**{"a.b": 1}`)."""
    __tracebackhide__ = True  # IPython and pytest leave d2lab's frames out of the traceback
    bad = [o for o in overrides if not isinstance(o, str)]
    if bad:
        raise D2LabError(
            f"d2lab.{call}: override {bad[0]!r} is a {type(bad[0]).__name__}; overrides are strings as on the "
            f"command line, e.g. d2lab.{call}('data=airfoil', 'optimizer.lr=0.1'), or keywords: seed=1."
        )
    flags = [o for o in overrides if o.startswith("-")]
    if flags:
        hint = " A sweep is d2lab.sweep(...)." if flags[0] in ("-m", "--multirun") else ""
        raise D2LabError(
            f"d2lab.{call}: {flags[0]!r} is a command-line flag, not an override; pass overrides such as "
            f"'data=airfoil' only.{hint}"
        )
    return [*overrides, *(f"{key}={override_value(value)}" for key, value in options.items())]


def names(args: list[str], key: str) -> bool:
    """Whether the overrides set `key` (`key=...`, `+key=...`, `++key=...`)."""
    return any(a.lstrip("+").startswith(f"{key}=") for a in args)


def call_text(call: str, overrides: list[str]) -> str:
    return f"d2lab.{call}(" + ", ".join(repr(o) for o in overrides) + ")"


def hydra_message(exc: BaseException) -> str:
    """Hydra's (or OmegaConf's) error as the command line prints it: the message and the cause under it."""
    lines = [str(exc)]
    cause = exc.__cause__
    if cause is not None and str(cause) not in lines[0]:
        lines.append(str(cause))
    return "\n".join(lines).strip()


@contextmanager
def composed(overrides: list[str], call: str) -> Iterator[object]:
    """d2lab's config with `overrides`, Hydra's own settings included, inside Hydra's compose API; a bad
    override or choice becomes a D2LabError. Hydra's global state is cleared on the way out."""
    __tracebackhide__ = True
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    import d2lab.resolvers  # noqa: F401  (registers ${len:...}, as d2lab.train does)
    from d2lab.paths import config_dir

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3", job_name=CONFIG):
        try:
            cfg = compose(CONFIG, overrides=overrides, return_hydra_config=True)
        except (HydraException, OmegaConfBaseException) as exc:
            raise D2LabError(f"d2lab.{call}: {hydra_message(exc)}") from None
        yield cfg


def fresh_folder(folder: Path) -> Path:
    """`folder`, or `folder_2`, `folder_3`...: two calls in one second get the same timestamp."""
    candidate, n = folder, 1
    while candidate.exists():
        n += 1
        candidate = folder.with_name(f"{folder.name}_{n}")
    return candidate


@contextmanager
def logging_restored() -> Iterator[None]:
    """Hydra configures the root logger for the job (console and the run's log file); put it back after, so
    that a notebook's later runs and cells do not write into an earlier run's log."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


@contextmanager
def process_state_restored() -> Iterator[None]:
    """What a run changes for the whole process, put back after it: environment variables (Lightning sets
    WANDB_MODE for an offline W&B run and MASTER_PORT for DDP), warning filters, and Ctrl-C's handler, which
    Lightning leaves ignored when the key comes before its own handler is in place."""
    environment = dict(os.environ)
    in_main_thread = threading.current_thread() is threading.main_thread()
    sigint = signal.getsignal(signal.SIGINT) if in_main_thread else None
    try:
        with warnings.catch_warnings():
            yield
    finally:
        os.environ.clear()
        os.environ.update(environment)
        if in_main_thread and sigint is not None:
            signal.signal(signal.SIGINT, sigint)


class JobCallbacks:
    """Hydra's callbacks (`hydra.callbacks`, none by default), called as Hydra's own single run calls them."""

    def __init__(self, cfg: object) -> None:
        from hydra.utils import instantiate

        self.callbacks = [instantiate(c) for c in (cfg.hydra.callbacks or {}).values()]

    def call(self, hook: str, **kwargs: object) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(**kwargs)

    def on_run_start(self, **kwargs: object) -> None:
        self.call("on_run_start", **kwargs)

    def on_run_end(self, **kwargs: object) -> None:
        self.call("on_run_end", **kwargs)

    def on_job_start(self, **kwargs: object) -> None:
        self.call("on_job_start", **kwargs)

    def on_job_end(self, **kwargs: object) -> None:
        self.call("on_job_end", **kwargs)


def run(*overrides: str, **options: object) -> Run:
    """Compose d2lab's config with the overrides (and keyword options, e.g. `seed=1`, `live_plot=True`) and run
    one job in this process, exactly as `python -m d2lab.train <overrides>` does, into the same logs/ folders.

    Returns the Run, whatever its status (ok, or diverged: a result). Bad input raises D2LabError, Ctrl-C
    (the kernel's interrupt) KeyboardInterrupt after the run recorded itself as interrupted."""
    __tracebackhide__ = True
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.utils import run_job
    from hydra.types import HydraContext, RunMode
    from omegaconf import OmegaConf, open_dict

    from d2lab import train
    from d2lab.job import provenance
    from d2lab.job.record import from_python

    args = as_overrides(overrides, options, "run")
    with composed(args, "run") as cfg:
        if cfg.hydra.mode == RunMode.MULTIRUN:  # e.g. experiment=d2l_minibatch_sgd, a sweep by its config
            raise D2LabError(
                f"d2lab.run: {' '.join(args)} composes a sweep (its config sets hydra.mode=MULTIRUN); run it with "
                f"d2lab.sweep({', '.join(map(repr, args))})."
            )
        if in_notebook() and not names(args, "trainer.enable_progress_bar"):
            with open_dict(cfg):  # the live plot shows the progress; a text bar floods the cell. Not an override:
                cfg.trainer.enable_progress_bar = False  # the run's name and overrides stay those the user typed
        with open_dict(cfg.hydra):
            cfg.hydra.mode = RunMode.RUN
            if not names(args, "hydra.run.dir"):
                cfg.hydra.run.dir = str(fresh_folder(Path(OmegaConf.select(cfg, "hydra.run.dir")).absolute()))
            folder = Path(cfg.hydra.run.dir).absolute()
        callbacks = JobCallbacks(cfg)
        context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=callbacks)
        refused: list[D2LabError] = []

        def task(job_cfg: object) -> float:
            try:
                return train.run_job(job_cfg)
            except D2LabError as exc:  # bad input: raised below, past Hydra's "Error executing job" log line
                refused.append(exc)
                return math.nan

        token = from_python.set(True)
        provenance.invoked_as = call_text("run", args)
        provenance.code_version.cache_clear()  # the kernel outlives commits and edits
        try:
            with logging_restored(), process_state_restored():
                callbacks.on_run_start(config=cfg, config_name=CONFIG)  # as Hydra's own single run calls them
                job = run_job(task_function=task, config=cfg, job_dir_key="hydra.run.dir", job_subdir_key=None,
                              hydra_context=context)  # fmt: skip
                callbacks.on_run_end(config=cfg, config_name=CONFIG, job_return=job)
            if refused:
                raise refused[0].with_traceback(None)
            job.return_value  # noqa: B018  (raises what the job raised, as Hydra's own run does)
        finally:
            from_python.reset(token)
            provenance.invoked_as = None
    return Run(folder)


def sweep_folder(args: list[str]) -> tuple[Path, bool]:
    """Where the sweep will write (hydra.sweep.dir as the command line would resolve it now), and whether the
    overrides named it. The overrides that sweep (a,b  range()  choice()) are left out of this compose."""
    __tracebackhide__ = True
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    try:
        parsed = OverridesParser.create().parse_overrides(args)
    except HydraException as exc:
        raise D2LabError(f"d2lab.sweep: {hydra_message(exc)}") from None
    named = any(o.key_or_group == "hydra.sweep.dir" for o in parsed)
    with composed([o.input_line for o in parsed if not o.is_sweep_override()], "sweep") as cfg:
        folder = Path(OmegaConf.select(cfg, "hydra.sweep.dir")).absolute()
    return folder, named


def error_paragraph(lines: list[str]) -> str:
    """The last paragraph the child printed: the command line's one-paragraph message."""
    text = "\n".join(line for line in lines if "HYDRA_FULL_ERROR" not in line).strip()
    return text.rsplit("\n\n", 1)[-1].strip() or "(no output)"


def sweep(*overrides: str, quiet: bool = False, **options: object) -> Sweep:
    """`python -m d2lab.train -m <overrides>` in a child process, its output streamed here (quiet: kept back),
    into the same logs/ folders; returns the Sweep. Jobs that fail are recorded in it, as on the command line;
    bad input raises D2LabError with the command line's paragraph."""
    __tracebackhide__ = True
    args = as_overrides(overrides, options, "sweep")
    folder, named = sweep_folder(args)
    if not named:
        folder = fresh_folder(folder)
        args.append(f"hydra.sweep.dir={override_value(str(folder))}")
    command = [sys.executable, "-m", "d2lab.train", "-m", *args]
    tail: collections.deque[str] = collections.deque(maxlen=80)
    unbuffered = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the child's lines as they come, not when a buffer fills
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                             env=unbuffered)  # fmt: skip
    try:
        for line in child.stdout:
            tail.append(line.rstrip("\n"))
            if not quiet:
                print(line, end="", flush=True)
        code = child.wait()
    except KeyboardInterrupt:  # the kernel's interrupt: stop the sweep as Ctrl-C would, and wait for it
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
        raise
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    if code != 0:
        raise D2LabError(f"d2lab.sweep: {error_paragraph(list(tail))}")
    return Sweep(folder)


def load(path: str | os.PathLike) -> Run | Sweep:
    """A run's folder (metrics.json, .hydra/) as a Run, a multirun's (multirun.yaml, job folders) as a Sweep."""
    __tracebackhide__ = True
    folder = Path(path)
    if (folder / "metrics.json").is_file() or (folder / ".hydra").is_dir():
        return Run(folder)
    if (folder / "multirun.yaml").is_file() or any(folder.glob("*/.hydra/overrides.yaml")):
        return Sweep(folder)
    what = "does not exist" if not folder.exists() else "holds neither metrics.json nor .hydra/ nor job folders"
    raise D2LabError(
        f"d2lab.load: {str(folder)!r} {what}. Pass a run's folder (logs/<task>/runs/<stamp>) or a sweep's "
        "(logs/<task>/multiruns/<stamp>)."
    )
