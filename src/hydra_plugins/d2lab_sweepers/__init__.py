"""d2lab's Hydra sweepers: `grid` (the default; Hydra's basic grid, which resumes) and `optuna` (with pruning)."""
