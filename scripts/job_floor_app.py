"""The least a short Hydra + Lightning job costs, with nothing of d2lab: a Hydra app whose job builds a linear model
on airfoil-sized data (1500 rows of 5 features), fits it for `epochs` epochs with validation every epoch and tests
it, as a user would write it from the two libraries' documentation. bench_job_floor.py sweeps it.

    python scripts/job_floor_app.py -m +parts=hydra,lightning,checkpoints +lr=0.01,0.1 hydra.sweep.dir=<folder>

`parts`: `hydra` returns at once (Hydra's own work per job); `lightning` adds a Trainer that fits, validates and
tests, with no logger and no checkpoints; `checkpoints` adds ModelCheckpoint's best.ckpt and last.ckpt each epoch
and tests best.ckpt. Each job writes `metrics.json` with `time/fit_s`, from fit's start to its last validation's
end as d2lab's jobs take it, so bench_sweeps.py's clocks read both alike.
"""

import json
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

PARTS = ("hydra", "lightning", "checkpoints")


@hydra.main(version_base=None, config_path=None, config_name=None)
def main(cfg: DictConfig) -> None:
    out = Path(HydraConfig.get().runtime.output_dir)
    parts = cfg.get("parts", "checkpoints")
    if parts not in PARTS:
        raise SystemExit(f"parts={parts!r} is not a valid choice. Valid choices: {', '.join(PARTS)}.")
    metrics: dict = {"status": "ok"}
    if parts != "hydra":
        metrics["time/fit_s"] = fit_and_test(cfg, out)
    (out / "metrics.json").write_text(json.dumps(metrics))


def fit_and_test(cfg: DictConfig, out: Path) -> float:
    # Imported here, so that the Hydra-alone level never imports torch.
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    class Linear(L.LightningModule):
        def __init__(self, lr: float) -> None:
            super().__init__()
            self.net, self.lr = nn.Linear(5, 1), lr

        def step(self, batch: tuple, name: str) -> torch.Tensor:
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y) / 2
            self.log(name, loss, on_step=False, on_epoch=True)
            return loss

        def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
            return self.step(batch, "train/loss")

        def validation_step(self, batch: tuple, batch_idx: int) -> None:
            self.step(batch, "val/loss")

        def test_step(self, batch: tuple, batch_idx: int) -> None:
            self.step(batch, "test/loss")

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    class FitClock(L.Callback):
        """From fit's start to the end of its last validation, where d2lab's `time/fit_s` stops too (its history
        takes the time there), so the checkpoint Lightning writes after that falls outside both."""

        def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            self.started = time.perf_counter()

        def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            self.seconds = time.perf_counter() - self.started

    L.seed_everything(cfg.get("seed", 0), verbose=False)
    x = torch.randn(1500, 5)
    data = TensorDataset(x, x @ torch.randn(5, 1) + 0.1 * torch.randn(1500, 1))
    train = DataLoader(data, batch_size=cfg.get("batch_size", 10), shuffle=True)
    evaluate = DataLoader(data, batch_size=1500)
    checkpoints = cfg.get("parts", "checkpoints") == "checkpoints"
    clock = FitClock()
    callbacks = [clock]
    if checkpoints:
        callbacks.append(
            ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor="val/loss", save_last=True)
        )
    trainer = L.Trainer(max_epochs=cfg.get("epochs", 3), logger=False, enable_checkpointing=checkpoints,
                        callbacks=callbacks, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, default_root_dir=out)  # fmt: skip
    model = Linear(cfg.get("lr", 0.01))
    trainer.fit(model, train, evaluate)
    trainer.test(model, evaluate, ckpt_path="best" if checkpoints else None, verbose=False)
    return clock.seconds


if __name__ == "__main__":
    main()
