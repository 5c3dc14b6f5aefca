"""An Optuna search whose objective is one configuration's mean over its K folds: each trial runs its folds with
`d2lab.run`, in this process, and Optuna gets the mean of their best validation losses.

    python scripts/optuna_over_folds.py [--trials 20] [--folds 5] [--storage sqlite:///folds.db]

Each fold is an ordinary d2lab run under logs/optuna_over_folds/runs/, with its metrics.json; each trial
records its folds' values and folders as user attributes, so `optuna-dashboard` and `study.trials_dataframe()`
show them. A trial whose fold diverges or fails is a failed trial, and the search goes on. The seed is the same
for every trial, so every configuration is scored on the same folds.
"""

import argparse
import statistics

import optuna

import d2lab


def fold_runs(overrides: list[str], folds: int) -> list[d2lab.Run]:
    """One configuration, trained K times: fold i validates, the other K - 1 train."""
    common = [*overrides, f"data.num_folds={folds}", "task_name=optuna_over_folds", "~logger"]
    return [d2lab.run(*common, f"data.fold={i}", print_config=False, live_plot=False) for i in range(folds)]


def objective(trial: optuna.Trial, folds: int, base: list[str]) -> float:
    lr = trial.suggest_float("optimizer.lr", 1e-3, 0.3, log=True)
    batch_size = trial.suggest_categorical("data.batch_size", [10, 50, 100])
    runs = fold_runs([*base, f"optimizer.lr={lr}", f"data.batch_size={batch_size}"], folds)
    trial.set_user_attr("fold_dirs", [str(run.dir) for run in runs])
    if any(run.status != "ok" for run in runs):  # e.g. a learning rate that diverges on some fold
        raise RuntimeError(f"the folds ended {[run.status for run in runs]}")
    values = [run.metrics["best"] for run in runs]
    trial.set_user_attr("fold_values", values)
    return statistics.mean(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--storage", default=None, help="an Optuna storage URL; default: in memory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    base = ["data=airfoil", "model=linear", "optimizer=sgd", f"trainer.max_epochs={args.epochs}", f"seed={args.seed}"]
    study = optuna.create_study(
        study_name="optuna_over_folds",
        storage=args.storage,
        sampler=optuna.samplers.TPESampler(seed=args.seed),
        direction="minimize",
        load_if_exists=True,
    )
    study.optimize(lambda trial: objective(trial, args.folds, base), n_trials=args.trials, catch=(RuntimeError,))
    best = study.best_trial
    print(f"best mean val/loss over {args.folds} folds: {best.value:.4f} with {best.params}")
    print(f"per fold: {', '.join(f'{v:.4f}' for v in best.user_attrs['fold_values'])}")


if __name__ == "__main__":
    main()
