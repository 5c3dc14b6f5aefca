"""Store a model's 4-D weights channels-last (NHWC), the layout cuDNN's tensor-core convolutions prefer."""

import lightning as L
import torch


class ChannelsLast(L.Callback):
    """Listed by `trainer=gpu`, so any task gets channels_last without a flag of its own.

    It acts in `setup`, which Lightning runs before `configure_model`, so a task that compiles its net there
    compiles the channels-last weights. A conv whose weight is channels-last makes its output channels-last too,
    so the inputs need no conversion (a 1-channel batch is both layouts at once).
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        pl_module.to(memory_format=torch.channels_last)
