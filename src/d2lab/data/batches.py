"""Minibatches cut from in-memory tensors: one shuffle per epoch, then contiguous slices (views)."""

from collections.abc import Callable, Iterator
from itertools import islice

import torch
from torch import Tensor


class TensorBatches:
    """An iterable of minibatches over tensors that share their first dimension.

    Lightning takes any sized iterable as a dataloader. Shuffling permutes the whole tensors once per
    epoch, so each batch is a free view rather than a gather, and no worker processes are needed.

    - `steps_per_call=K > 1` yields lists of K consecutive minibatches, which a task runs as K optimizer
      steps inside one Lightning step (Lightning's per-step cost dominates tiny models).
    - Epoch e's order depends only on (seed, e), and where an iteration starts comes from `position()`:
      the epoch and how many of its minibatches the run has trained on, so a resumed run continues mid-epoch
      exactly, also from the middle of a group of steps_per_call.
      Without `position`, each iteration is the next epoch from its start.
    - `rank`/`world_size` give each process its equal share of every batch (DDP): together the
      processes see the same global batches as one process would.
    - `group_ends_every_n_examples=N` also ends a group wherever the examples of the epoch so far reach a
      multiple of N, so that a curve point due there (callbacks/curve_cadence.py) sees the parameters of exactly
      that step. The cut points repeat every epoch, so every epoch has the same number of groups.
    """

    def __init__(
        self,
        *tensors: Tensor,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        steps_per_call: int = 1,
        rank: int = 0,
        world_size: int = 1,
        position: Callable[[], tuple[int, int]] | None = None,
        group_ends_every_n_examples: int | None = None,
    ) -> None:
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("TensorBatches needs tensors of equal length")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.steps_per_call = steps_per_call
        self.rank, self.world_size = rank, world_size
        self.position = position
        self.group_ends_every_n_examples = group_ends_every_n_examples
        self.epoch = -1  # the epoch being iterated

    @property
    def num_batches(self) -> int:
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __len__(self) -> int:
        if self.steps_per_call == 1:
            return self.num_batches
        if not self.group_ends_every_n_examples:
            return -(-self.num_batches // self.steps_per_call)
        return sum(1 for _ in self.group_sizes(0))

    def group_sizes(self, first: int) -> Iterator[int]:
        """How many minibatches each group holds, from the epoch's minibatch `first` on: steps_per_call, less
        where a group ends early at a multiple of group_ends_every_n_examples."""
        every, rows, size = self.group_ends_every_n_examples, len(self.tensors[0]), 0
        for i in range(first, self.num_batches):
            size += 1
            seen = min((i + 1) * self.batch_size, rows)  # examples of the epoch after minibatch i
            if size == self.steps_per_call or (every and seen // every > i * self.batch_size // every):
                yield size
                size = 0
        if size:
            yield size

    def __iter__(self) -> Iterator[tuple[Tensor, ...] | list[tuple[Tensor, ...]]]:
        # A generator: the start is read at the first next(), after every earlier batch was consumed.
        self.epoch, skip = self.position() if self.position else (self.epoch + 1, 0)
        batches = islice(self.batches(self.epoch), skip, None)
        if self.steps_per_call > 1 and self.group_ends_every_n_examples:  # lists, cut where a point falls due
            for size in self.group_sizes(skip):
                yield list(islice(batches, size))
        elif self.steps_per_call > 1:  # lists of K consecutive batches
            yield from iter(lambda: list(islice(batches, self.steps_per_call)), [])
        else:
            yield from batches

    def batches(self, epoch: int) -> Iterator[tuple[Tensor, ...]]:
        tensors = self.tensors
        if self.shuffle:
            generator = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % 2**63)
            order = torch.randperm(len(tensors[0]), generator=generator).to(tensors[0].device)
            tensors = tuple(t[order] for t in tensors)
        # split() cuts all of a tensor's views in one call, cheaper than slicing batch by batch (docs/benchmarks.md).
        for batch in islice(zip(*(t.split(self.batch_size) for t in tensors), strict=True), self.num_batches):
            if self.world_size > 1:
                batch = tuple(t.tensor_split(self.world_size)[self.rank] for t in batch)
            yield batch
