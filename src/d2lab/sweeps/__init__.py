"""A sweep's state on disk, Optuna's study and TensorBoard's HParams view."""
