"""The base of every d2lab DataModule: the whole data set as tensors, split once, batched by slicing."""

import logging
from typing import TYPE_CHECKING

import lightning as L
import torch
from torch import Tensor

from d2lab.checks.values import check_whole_number
from d2lab.data.batches import TensorBatches
from d2lab.data.folds import check_folds, fold_indices
from d2lab.errors import ConfigError

if TYPE_CHECKING:
    from d2lab.tasks.grouped import Grouping

log = logging.getLogger("d2lab")

# `auto` groups minibatches until a call holds ~2048 examples: enough work to hide Lightning's per-step cost.
AUTO_EXAMPLES_PER_CALL = 2048


def resolve_steps_per_call(steps_per_call: int | str, batch_size: int) -> int:
    if steps_per_call == "auto":
        return max(1, AUTO_EXAMPLES_PER_CALL // batch_size)
    return check_whole_number(
        "data.steps_per_call", steps_per_call, 1, " (optimizer steps per Lightning step), or auto"
    )


class InMemoryDataModule(L.LightningDataModule):
    """Subclasses implement `load()`, returning features and targets; this class splits and batches them.

    `val_fraction=0` validates on the whole training set, which is how the book reports its losses.
    `num_folds=K` and `fold=i` cut the data into K folds instead (k-fold cross-validation), and fold i validates.
    The test split is the validation split unless a subclass provides its own.
    """

    def __init__(
        self,
        batch_size: int,
        val_fraction: float = 0.2,
        seed: int = 0,
        steps_per_call: int | str = 1,
        num_folds: int | None = None,
        fold: int | None = None,
    ) -> None:
        super().__init__()
        check_whole_number("data.batch_size", batch_size)
        check_folds(num_folds, fold)
        if not 0 <= val_fraction < 1:
            raise ConfigError(
                f"data.val_fraction={val_fraction!r} is invalid: it must be in [0, 1); "
                "0 validates on the training data, as the book does."
            )
        self.batch_size = batch_size
        self.steps_per_call = resolve_steps_per_call(steps_per_call, batch_size)
        self.val_fraction = val_fraction
        self.seed = seed
        self.num_folds, self.fold = num_folds, fold
        self.train_set: tuple[Tensor, Tensor] | None = None
        self.val_set: tuple[Tensor, Tensor] | None = None
        self.test_set: tuple[Tensor, Tensor] | None = None
        self.consumed = (0, 0)  # (epoch, minibatches of it handed to training steps so far)
        self.grouping: Grouping | None = None  # the run's decision (d2lab.tasks.grouped); until then, steps_per_call

    def load(self) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def check_fixed_width(self, num_features: int, data_name: str) -> None:
        """For data whose width is fixed (class attribute `num_features`): configs still pass
        `data.num_features`, since models read it, so a value that disagrees is refused here."""
        if num_features != self.num_features:
            raise ConfigError(
                f"data.num_features={num_features!r} is fixed by the {data_name} data: it has {self.num_features}."
            )

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        features, targets = self.load()
        split = self.fold_split(len(features)) if self.num_folds is not None else self.holdout_split(len(features))
        if split is None:  # val_fraction=0: validate on the training data itself
            self.train_set = self.val_set = (features, targets)
        else:
            train, val = split
            self.train_set = (features[train], targets[train])
            self.val_set = (features[val], targets[val])
        if self.test_set is None:
            self.test_set = self.val_set

    def holdout_split(self, examples: int) -> tuple[Tensor, Tensor] | None:
        """(train, validation) row indices with `val_fraction` of the rows held out; None where it is 0."""
        n_val = round(examples * self.val_fraction)
        if n_val >= examples:
            raise ConfigError(
                f"data.val_fraction={self.val_fraction!r} of the {examples} examples leaves none to train on: "
                "lower data.val_fraction (0 validates on the training data, as the book does) or use more examples."
            )
        if n_val == 0:
            return None
        order = torch.randperm(examples, generator=torch.Generator().manual_seed(self.seed))
        return order[n_val:], order[:n_val]

    def fold_split(self, examples: int) -> tuple[Tensor, Tensor]:
        """(train, validation) row indices of fold `fold` of `num_folds`."""
        train, val = fold_indices(examples, self.num_folds, self.fold, self.seed)
        unused = f"; data.val_fraction={self.val_fraction} is not used" if self.val_fraction else ""
        log.info("data.num_folds=%d: fold %d validates on %d of %d examples%s", self.num_folds, self.fold,
                 len(val), examples, unused)  # fmt: skip
        return train, val

    def train_dataloader(self) -> TensorBatches:
        rank, world_size = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        if world_size > 1 and self.batch_size % world_size:
            raise ConfigError(
                f"data.batch_size={self.batch_size} does not split evenly over {world_size} processes: "
                "data.batch_size is the global batch, so use a multiple of the number of devices."
            )
        # Until a run decides (a plain Trainer), the configured groups, on one process: DDP needs one backward per
        # forward, so there each Lightning step is one optimizer step.
        grouping = self.grouping
        steps_per_call = grouping.steps_per_call if grouping else self.steps_per_call if world_size == 1 else 1
        return TensorBatches(
            *self.train_set,
            batch_size=self.batch_size,
            # Lightning's overfit_batches reuses the same first batches every epoch; it can only turn off the
            # shuffling of a torch DataLoader's sampler, so this loader turns off its own.
            shuffle=not (self.trainer and self.trainer.overfit_batches),
            seed=self.seed,
            steps_per_call=steps_per_call,
            rank=rank,
            world_size=world_size,
            position=self.position if self.trainer else None,
            group_ends_every_n_examples=grouping.ends_every_n_examples if grouping else None,
        )

    # --- exact resume: count the minibatches each epoch trained on, and checkpoint that count ---------------
    def position(self) -> tuple[int, int]:
        """Where the current epoch's iteration starts: (epoch, minibatches of it already trained on)."""
        epoch, consumed = self.consumed
        epoch_now = self.trainer.current_epoch
        return epoch_now, consumed if epoch == epoch_now else 0

    def on_before_batch_transfer(self, batch, dataloader_idx: int):
        # Lightning calls this once per batch a training step takes (a batch it prefetched is not counted yet).
        if self.trainer is not None and self.trainer.training:
            minibatches = len(batch) if isinstance(batch, list) else 1
            self.consumed = self.trainer.current_epoch, self.position()[1] + minibatches
        return batch

    def give_back(self, minibatches: int) -> None:
        """A training step stopped (Ctrl-C) before stepping on its last `minibatches`: they are still to come."""
        epoch, consumed = self.consumed
        self.consumed = epoch, consumed - minibatches

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        # A batch is slices of tensors held here: if they already live on `device`, nothing moves, and Lightning's
        # generic walk over a call's K minibatches is skipped (its cost: docs/benchmarks.md).
        first = batch[0][0] if isinstance(batch, list) else batch[0]
        if first.device == device:
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def state_dict(self) -> dict[str, int]:
        epoch, consumed = self.consumed
        return {"epoch": epoch, "consumed_batches": consumed}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        if "epoch" not in state_dict:  # written before d2lab counted per epoch: Lightning steps over the whole run
            loader = self.train_dataloader()
            epoch, steps = divmod(state_dict["consumed_batches"], len(loader))
            self.consumed = epoch, steps * loader.steps_per_call
            return
        self.consumed = state_dict["epoch"], state_dict["consumed_batches"]

    def val_dataloader(self) -> TensorBatches:
        return TensorBatches(*self.val_set, batch_size=max(self.batch_size, 1024))

    def predict_dataloader(self):
        return self.test_dataloader()

    def test_dataloader(self) -> TensorBatches:
        return TensorBatches(*self.test_set, batch_size=max(self.batch_size, 1024))
