"""What a job of an Optuna search pays to find its trial, as the study grows: the journal opened for every job
against the storage a process's jobs share (`d2lab.sweeps.optuna_study.job_storage`).

Both open the study, load it and look the newest trial up, as `job_trial` does; the study's trials are written as
`hparams_search=airfoil_optuna`'s are (three parameters, three reported values, and the sweeper's two user
attributes). Median of 5 per size.

    python scripts/bench_trial_storage.py --trials 20 100 500 1000
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import optuna

from d2lab.sweeps.optuna_study import JOB_DIR_ATTR, JOB_JOURNAL, OWNER_ATTR, job_storage, open_storage
from d2lab.sweeps.state import owner


def objective(trial: optuna.Trial) -> float:
    trial.set_user_attr(OWNER_ATTR, owner())  # what the sweeper records on each trial it asks for
    trial.set_user_attr(JOB_DIR_ATTR, f"/logs/airfoil_optuna/multiruns/2026-12-07_04-00-00/{trial.number}")
    trial.suggest_float("optimizer.lr", 1e-3, 10.0, log=True)
    trial.suggest_categorical("optimizer", ["sgd", "momentum", "adagrad", "rmsprop", "adam"])
    trial.suggest_categorical("data.batch_size", [5, 10, 50, 100])
    for step in range(3):
        trial.report(0.5, step)
    return 0.25


def find_trial(storage: optuna.storages.BaseStorage, number: int) -> None:
    optuna.load_study(study_name="search", storage=storage, sampler=optuna.samplers.RandomSampler())
    storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name("search"), number)


def measure(sizes: list[int], repeats: int = 5) -> list[dict]:
    """Per study size (each at least `repeats` more than the last: each repeat adds a trial)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        sweep_dir = Path(folder)
        study = optuna.create_study(study_name="search", storage=open_storage(None, sweep_dir),
                                    sampler=optuna.samplers.RandomSampler(seed=0))  # fmt: skip
        JOB_JOURNAL.clear()
        job_storage(None, sweep_dir)  # the process's first job opens it
        for size in sizes:
            study.optimize(objective, n_trials=max(size - len(study.trials), 0))
            times: dict[str, list[float]] = {"reopened": [], "shared": []}
            for _ in range(repeats):
                for name, get in (("reopened", lambda: open_storage(None, sweep_dir)),
                                  ("shared", lambda: job_storage(None, sweep_dir))):  # fmt: skip
                    start = time.perf_counter()
                    find_trial(get(), size - 1)
                    times[name].append(time.perf_counter() - start)
                study.optimize(objective, n_trials=1)  # the next trial, as the sweeper would add it
            rows.append({"trials": size, **{k: statistics.median(v) * 1e3 for k, v in times.items()}})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| trials in the study | journal reopened (ms a job) | storage shared (ms a job) |", "| --- | --- | --- |"]
    lines += [f"| {r['trials']} | {r['reopened']:.1f} | {r['shared']:.2f} |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[20, 100, 500, 1000])
    args = parser.parse_args()
    print(table(measure(args.trials)))
