"""What Slurm adds to a sweep, on the local cluster of scripts/slurm_local.sh: its start, and the same sweeps
through `hydra/launcher=slurm_cpu` and through the basic launcher (or Lightning's own DDP), one after the other.

Needs a running cluster ($SLURM_CONF), or root, to start one (and stop it again at the end).

    python scripts/bench_slurm.py
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = ["bash", str(REPO / "scripts" / "slurm_local.sh")]
ON_SLURM = ["-m", "hydra/launcher=slurm_cpu"]
GRID_4 = ["data=airfoil", "trainer.max_epochs=3", "optimizer.lr=0.01,0.1", "data.batch_size=10,100"]
GRID_12 = ["data=airfoil", "trainer.max_epochs=3", "optimizer.lr=0.01,0.03,0.1", "data.batch_size=10,100", "seed=0,1"]
DDP = ["data=airfoil", "trainer.max_epochs=2", "trainer=ddp", "trainer.devices=2"]
SWEEPS = {  # name: (the local command's overrides, the same through Slurm)
    "4-job airfoil sweep, 3 epochs": (["-m", *GRID_4], [*ON_SLURM, *GRID_4]),
    "12-job airfoil grid, 3 epochs": (["-m", *GRID_12], [*ON_SLURM, *GRID_12]),
    "one DDP run, 2 processes (airfoil, 2 epochs)": (DDP, [*ON_SLURM, "hydra.launcher.tasks_per_node=2", *DDP]),
}


def cluster_up() -> tuple[bool, str]:
    """(whether this script started it, what the start cost); the cluster is up afterwards, and $SLURM_CONF
    names it."""
    if os.environ.get("SLURM_CONF") and subprocess.run(["sinfo"], capture_output=True).returncode == 0:
        return False, "already up"
    os.environ["SLURM_CONF"] = str(Path(os.environ.get("SLURM_LOCAL_DIR", "/tmp/d2lab-slurm")) / "etc" / "slurm.conf")
    if subprocess.run([*SCRIPT, "status"], capture_output=True).returncode == 0:
        return False, "already up"
    if os.geteuid() != 0:
        sys.exit("bench_slurm: no cluster is up and starting one needs root (scripts/slurm_local.sh up)")
    started = time.perf_counter()
    up = subprocess.run([*SCRIPT, "up"], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    daemons = re.search(r"started in ([\d.]+) s", up.stdout)
    return True, f"{wall:.1f} s for `scripts/slurm_local.sh up` (daemons {daemons.group(1) if daemons else '?'} s)"


def timed(overrides: list[str]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        where = "hydra.sweep.dir" if "-m" in overrides else "hydra.run.dir"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "d2lab.train", *overrides, f"{where}={folder}/out"], cwd=folder,
                       check=True, capture_output=True)  # fmt: skip
        return time.perf_counter() - started


def table() -> str:
    started_here, start = cluster_up()
    nodes = subprocess.run(["sinfo", "-h", "-o", "%D node(s), %c CPUs"], capture_output=True, text=True).stdout
    rows = ["| sweep | local (s) | through Slurm (s) | Slurm / local |", "| --- | --- | --- | --- |"]
    try:
        for name, (local, slurm) in SWEEPS.items():
            here, there = timed(local), timed(slurm)
            rows.append(f"| {name} | {here:.1f} | {there:.1f} | **{there / here:.2f}** |")
    finally:
        if started_here:
            subprocess.run([*SCRIPT, "down"], capture_output=True)
    return "\n".join([f"Cluster: {nodes.strip()}; start: {start}.", "", *rows])


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(table())


if __name__ == "__main__":
    main()
