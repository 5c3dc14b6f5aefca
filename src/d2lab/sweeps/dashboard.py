"""Optuna's own dashboard (optuna-dashboard) on an Optuna search, found from its sweep folder alone.

    python -m d2lab.sweeps.dashboard logs/airfoil_optuna/multiruns/<stamp> [--port 8080]
    make dashboard SWEEP=logs/airfoil_optuna/multiruns/<stamp> [PORT=8080]

The Optuna sweeper writes the study's name and its storage setting into the folder's `sweep.json`. The storage
is opened as the sweeper and its jobs open it (the folder's `optuna.journal`, a journal file, or a database URL)
and handed to `optuna_dashboard.run_server`, which listens on 127.0.0.1 only and reads the storage live, so it
follows a search still at work. optuna-dashboard is the optional extra `dashboard`.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from d2lab.sweeps.optuna_study import journal_path, open_storage
from d2lab.sweeps.state import read_json

HOST = "127.0.0.1"  # never another interface: the dashboard can rename and delete studies
DEFAULT_PORT = 8080  # optuna-dashboard's own default


class DashboardError(Exception):
    """Bad input: its message is the one paragraph the user sees."""


def optuna_searches(logs: Path = Path("logs")) -> list[Path]:
    """The Optuna searches under `logs`, newest first: what the user could have meant."""
    found = [p.parent for p in logs.glob("*/multiruns/*/sweep.json") if "study_name" in read_json(p)]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def valid_choices() -> str:
    searches = optuna_searches()[:3]
    examples = ", ".join(str(p) for p in searches) if searches else "none under logs/ yet"
    return (
        "Give the folder of a search run with hparams_search=... (d2lab's Optuna sweeper), such as "
        f"logs/<task_name>/multiruns/<stamp>; here: {examples}."
    )


def find_study(sweep_dir: Path) -> tuple[str, Any, str]:
    """(study name, opened storage, where it lives) of the Optuna search in `sweep_dir`, or a DashboardError."""
    if not sweep_dir.is_dir():
        raise DashboardError(f"{sweep_dir} is not a folder. {valid_choices()}")
    state = read_json(sweep_dir / "sweep.json")
    if not state:
        raise DashboardError(
            f"{sweep_dir} is not a sweep folder: it holds no readable sweep.json, which every d2lab sweep writes. "
            + valid_choices()
        )
    if "study_name" not in state:
        raise DashboardError(
            f"{sweep_dir} is a sweep without an Optuna study (its sweep.json names none): a grid sweep has "
            f"nothing for Optuna's dashboard to show; `python -m d2lab.report {sweep_dir}` reads it. " + valid_choices()
        )
    name, storage = state["study_name"], state.get("storage")
    # Check the file first: opening a journal or SQLite file that is not there would create an empty one.
    path = journal_path(storage, sweep_dir)
    if path is None and storage.startswith("sqlite:///"):
        path = Path(storage.split("///", 1)[1])
    where = str(path or storage)
    if path is not None and not path.is_file():
        raise DashboardError(
            f"{sweep_dir} is an Optuna search of study {name!r}, but its storage {where} is gone (a relative "
            "hydra.sweeper.storage is read from the folder the search ran from). Run the dashboard from that "
            "folder, or give a search whose storage is still there."
        )
    try:
        opened = open_storage(storage, sweep_dir)
        opened.get_study_id_from_name(name)
    except Exception as exc:  # a missing study, a database server down (SQLAlchemy's errors), no driver
        raise DashboardError(
            f"{sweep_dir}: study {name!r} cannot be read from {where} ({type(exc).__name__}: {exc})."
        ) from None
    return name, opened, where


def serve(sweep_dir: Path, port: int) -> None:
    try:
        import optuna_dashboard
    except ImportError:
        raise DashboardError(
            "optuna-dashboard is not installed: it is d2lab's optional extra `dashboard`. Install it with "
            "`pip install -e '.[dashboard]'` (make dashboard and `.[dev]` install it), then run this again."
        ) from None
    name, storage, where = find_study(sweep_dir)
    study_id = storage.get_study_id_from_name(name)
    print(f"optuna-dashboard on study {name!r} ({where}): http://{HOST}:{port}/dashboard/studies/{study_id}")
    print("Ctrl-C stops it.", flush=True)
    try:
        optuna_dashboard.run_server(storage, host=HOST, port=port)  # returns on Ctrl-C
    except OSError as exc:  # binding the port; requests' errors stay inside the server
        raise DashboardError(
            f"cannot listen on {HOST}:{port} ({exc.strerror or exc}). Choose another with --port (make: PORT=)."
        ) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m d2lab.sweeps.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path, help="an Optuna search's folder: logs/<task_name>/multiruns/<stamp>")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"on {HOST} (default: {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    try:
        serve(args.sweep, args.port)
    except DashboardError as exc:
        sys.exit(f"d2lab dashboard: {exc}")


if __name__ == "__main__":
    main()
