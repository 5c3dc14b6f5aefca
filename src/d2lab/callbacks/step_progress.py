"""Lightning's progress bar, counting minibatches where one training step holds several."""

from lightning.pytorch.callbacks import TQDMProgressBar


def steps_per_call(trainer) -> int:
    return getattr(trainer.train_dataloader, "steps_per_call", 1)


class StepProgressBar(TQDMProgressBar):
    """On the grouped fast path a Lightning step runs `steps_per_call` optimizer steps; the bar counts those,
    so an airfoil epoch at batch 10 reads 150/150, not 1/1. Elsewhere it is Lightning's bar unchanged."""

    @property
    def total_train_batches(self) -> int | float:
        k = steps_per_call(self.trainer)
        if k == 1:
            return super().total_train_batches
        return self.trainer.train_dataloader.num_batches  # the grouped path runs whole epochs (see d2lab.tasks.grouped)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        k = steps_per_call(trainer)
        if k > 1:
            batch_idx = min((batch_idx + 1) * k, self.total_train_batches) - 1  # minibatches done, less one
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
