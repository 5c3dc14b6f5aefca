"""d2lab's Optuna sweeper for Hydra (`hydra/sweeper=optuna`); see optuna_sweeper.py for why it exists."""
