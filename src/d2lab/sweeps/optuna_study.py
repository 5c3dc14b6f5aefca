"""Where an Optuna search keeps its study, and how a job finds its own trial there.

The study lives in a storage both the sweeper and its jobs open: `hydra.sweeper.storage` when set (a database
URL such as sqlite:///study.db, or a file path for an Optuna journal), else `optuna.journal` in the sweep
folder. A journal is a file, so jobs in other processes (the joblib launcher, a SLURM node) report to the
same study as jobs in the sweeper's process, and a search run into its folder again continues its study.
A job's number is its trial's number, so a job finds its trial from `hydra.job.num` alone.
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

OPTUNA_SWEEPER = "hydra_plugins.d2lab_sweepers.optuna_sweeper.OptunaSweeper"
OWNER_ATTR = "d2lab_owner"  # trial user attr: the host and pid of the sweeper that asked for it
JOB_DIR_ATTR = "d2lab_job_dir"  # trial user attr: the folder its job writes


def journal_path(storage: str | None, sweep_dir: Path) -> Path | None:
    """The journal file a storage setting names (null: the sweep folder's), or None for a database URL."""
    if storage and "://" in storage:
        return None
    return Path(storage) if storage else sweep_dir / "optuna.journal"


def open_storage(storage: str | None, sweep_dir: Path) -> "optuna.storages.BaseStorage":
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path = journal_path(storage, sweep_dir)
    if path is None:
        return optuna.storages.RDBStorage(storage)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


# job_storage's one journal, for this process's later jobs: {"key": ..., "storage": ..., "size": ...}
JOB_JOURNAL: dict[str, Any] = {}


def job_storage(storage: str | None, sweep_dir: Path) -> "optuna.storages.BaseStorage":
    """The study's storage for a job. A journal is opened once per process and kept for its later jobs: opening
    one replays it from its first line, so a search's trials would cost more the more trials it held. Kept for
    one journal at a time, per process (a forked worker opens its own), and opened anew when the file was
    replaced (a new search into the same folder) or shrank. A database is opened for each job: it replays
    nothing, and a cached connection could outlive a database file deleted under it."""
    path = journal_path(storage, sweep_dir)
    if path is None or not path.exists():
        return open_storage(storage, sweep_dir)
    stat = path.stat()
    with path.open("rb") as journal:
        first = journal.readline()  # the study's creation, with a random worker id: a new file's differs
    key = (os.getpid(), path.resolve(), stat.st_dev, stat.st_ino, first)  # a new file may reuse the inode
    if JOB_JOURNAL.get("key") != key or stat.st_size < JOB_JOURNAL["size"]:
        JOB_JOURNAL.update(key=key, storage=open_storage(storage, sweep_dir))
    JOB_JOURNAL["size"] = stat.st_size
    return JOB_JOURNAL["storage"]


def describe_storage(storage: str | None, sweep_dir: Path) -> str:
    return str(journal_path(storage, sweep_dir) or storage)


@contextmanager
def ask_lock(storage: str | None, sweep_dir: Path) -> Iterator[None]:
    """Held while a sweeper counts the study's trials and asks for more, so that several workers sharing one
    study (processes, or SLURM jobs on a shared file system) stop at exactly n_trials. A file lock beside the
    storage's file; for a database server, in the sweep folder."""
    path = journal_path(storage, sweep_dir)
    if path is None:
        path = Path(storage.split("///", 1)[1]) if storage.startswith("sqlite:///") else sweep_dir / "optuna.db"
    with open(path.with_name(path.name + ".d2lab-ask.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def job_trial() -> "optuna.trial.Trial | None":
    """This job's Optuna trial when it runs inside a d2lab Optuna search, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    sweeper: Any = hydra_cfg.sweeper
    if hydra_cfg.mode != RunMode.MULTIRUN or sweeper.get("_target_") != OPTUNA_SWEEPER:
        return None
    import optuna
    from hydra.utils import instantiate

    storage = job_storage(sweeper.get("storage"), Path(str(hydra_cfg.sweep.dir)))
    pruner = instantiate(sweeper.pruner) if sweeper.get("pruner") else None
    study = optuna.load_study(
        study_name=sweeper.study_name, storage=storage, pruner=pruner, sampler=optuna.samplers.RandomSampler()
    )
    study_id = storage.get_study_id_from_name(sweeper.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, int(hydra_cfg.job.num))
    return optuna.trial.Trial(study, trial_id)
