"""The run's config tree, printed once Lightning has accepted everything: a refused config prints only its paragraph."""

from pathlib import Path

import lightning as L
from omegaconf import DictConfig

from d2lab.job.config_tree import print_config


class PrintConfig(L.Callback):
    """Prints at the start of training, after the data has loaded and the sanity check has run (Lightning judges its
    data-dependent flags there), or at the start of a test without training; on the first process only."""

    def __init__(self, cfg: DictConfig, folder: str | Path) -> None:
        self.cfg, self.folder = cfg, folder
        self.printed = False
        # ddp_spawn copies callbacks into each stage's workers, so `printed` alone cannot tell the test it was done
        self.trains = cfg.get("train", True) is not False

    def print_once(self, trainer: L.Trainer) -> None:
        if not self.printed and trainer.is_global_zero:
            print_config(self.cfg, self.folder)
        self.printed = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.print_once(trainer)

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.trains:
            self.print_once(trainer)
