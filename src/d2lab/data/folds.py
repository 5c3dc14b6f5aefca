"""K-fold cross-validation (the book's 5.7): the training data cut into K folds, fold i validating and the other
K - 1 training. The cut is a permutation drawn from the seed, so every fold of one seed sees the same folds."""

import torch
from torch import Tensor

from d2lab.checks.values import check_whole_number
from d2lab.errors import ConfigError


def check_folds(num_folds: int | None, fold: int | None) -> None:
    """`data.num_folds` null (no folds) or a whole K >= 2, and then `data.fold` one of 0 .. K - 1."""
    if num_folds is None:
        if fold is not None:
            raise ConfigError(
                f"data.fold={fold!r} needs data.num_folds, the number of folds to cut the training data into: "
                f"e.g. data.num_folds=5 data.fold={fold!r}, or leave data.fold out (null) to train without folds."
            )
        return
    check_whole_number("data.num_folds", num_folds, 2, " (K folds; null trains without folds)")
    if fold is None:
        raise ConfigError(
            f"data.num_folds={num_folds} needs data.fold, the fold that validates: 0 to {num_folds - 1}, or all of "
            f"them as a sweep, -m 'data.fold=range({num_folds})'."
        )
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < num_folds:
        raise ConfigError(
            f"data.fold={fold!r} is invalid: with data.num_folds={num_folds} it is a whole number from 0 to "
            f"{num_folds - 1}; sweep all of them with -m 'data.fold=range({num_folds})'."
        )


def fold_indices(examples: int, num_folds: int, fold: int, seed: int) -> tuple[Tensor, Tensor]:
    """(train, validation) row indices of fold `fold`: folds of sizes that differ by at most one row."""
    if num_folds > examples:
        raise ConfigError(
            f"data.num_folds={num_folds} is more than the {examples} training examples: use at most {examples}."
        )
    order = torch.randperm(examples, generator=torch.Generator().manual_seed(seed))
    folds = order.tensor_split(num_folds)
    return torch.cat([f for i, f in enumerate(folds) if i != fold]), folds[fold]
