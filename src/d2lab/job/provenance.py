"""What produced a run, for its metrics.json: the code's git commit, the library versions, the device, the command.

Looked up once per process: a sweep's jobs share them, and the git calls are the only cost.
"""

import functools
import os
import platform
import shlex
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("d2lab", "torch", "lightning", "hydra-core")  # distributions, by their pip names

# Set by d2lab.run: a notebook's "command" is the Python call, not the kernel's command line. (d2lab.sweep's
# jobs run as `python -m d2lab.train -m ...`, which is what they record.)
invoked_as: str | None = None


def git(folder: Path, *args: str) -> str | None:
    """`git -C folder ...`'s output; None outside a git checkout or without git."""
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def checkout_version(folder: Path) -> dict[str, object]:
    """The commit of the checkout `folder` is in, and whether its tracked files differ from it; null outside one."""
    commit = git(folder, "rev-parse", "HEAD")
    # --no-optional-locks: many jobs at once must not contend for the index lock that a plain status may take
    status = git(folder, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


@functools.cache
def code_version() -> dict[str, object]:
    """d2lab's own code: null when it is installed from a wheel, or git cannot read the checkout."""
    return checkout_version(Path(__file__).parent)


@functools.cache
def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    found["python"] = platform.python_version()
    return found


def d2lab_command(argv: list[str]) -> bool:
    """Whether `argv` started d2lab itself (`python -m d2lab.train`, `d2lab-train`, `python src/d2lab/train.py`),
    not a worker that runs d2lab's jobs (joblib's loky, submitit on a Slurm node)."""
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1].startswith("d2lab")
    script = next((a for a in argv[1:] if not a.startswith("-")), argv[0] if argv else "")
    return "d2lab" in Path(argv[0]).name or "d2lab" in script


def command_line() -> str:
    """The command as typed (`python -m d2lab.train data=airfoil`), or the Python call that started the run. In
    a worker process, the command that runs this one job: `python -m d2lab.train <the job's overrides>`."""
    if invoked_as is not None:
        return invoked_as
    argv = list(getattr(sys, "orig_argv", sys.argv))
    if not d2lab_command(argv):
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return shlex.join(["python", "-m", "d2lab.train", *HydraConfig.get().overrides.task])
    if argv and Path(argv[0]).name.startswith("python"):
        argv[0] = "python"  # the venv's absolute path says nothing another checkout could use
    return shlex.join(argv)


def device_name(device: object) -> str:
    """`cpu`, or `cuda:0 (NVIDIA H200)`: the accelerator a run trained on."""
    import torch

    text = str(device)
    if isinstance(device, torch.device) and device.type == "cuda":
        text += f" ({torch.cuda.get_device_name(device)})"
    return text


def provenance() -> dict[str, object]:
    """metrics.json's `provenance`; `device` is filled in once the Trainer has chosen it. `host` and `pid` name the
    process that ran the job (a sweep's worker, under a parallel launcher)."""
    process = {"host": socket.gethostname(), "pid": os.getpid()}
    return {**code_version(), "versions": versions(), "device": None, "command": command_line(), **process}
