"""A user's plain LightningDataModule, with torch DataLoaders, trains a d2lab task: what needs d2lab's in-memory data
(the grouped fast path, the closed-form report) steps aside with one log line each."""

import logging

import lightning as L
import torch
from omegaconf import OmegaConf, open_dict
from torch.utils.data import DataLoader, TensorDataset


class PlainData(L.LightningDataModule):
    """y = Xw + b + noise, served by DataLoaders: no `train_set`, no `steps_per_call`."""

    def __init__(self, num_features: int = 2, batch_size: int = 10) -> None:
        super().__init__()
        self.num_features, self.batch_size = num_features, batch_size
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(200, num_features, generator=generator)
        y = x @ torch.tensor([[2.0], [-3.4]]) + 4.2 + 0.01 * torch.randn(200, 1, generator=generator)
        self.train, self.val = TensorDataset(x[:160], y[:160]), TensorDataset(x[160:], y[160:])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val, batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()


def test_a_plain_datamodule_trains_linear_regression(compose_cfg, caplog):
    from d2lab.train import train

    cfg = compose_cfg("model=linear", "task=regression", "trainer.max_epochs=3", "~logger", "optimizer.lr=0.1")
    with open_dict(cfg):
        cfg.data = OmegaConf.create({"_target_": f"{__name__}.PlainData", "num_features": 2, "batch_size": 10})
    with caplog.at_level(logging.INFO, logger="d2lab"):
        summary = train(cfg, {})
    assert summary["steps"] == 3 * 16 and summary["val/loss"] < 0.01  # one minibatch per optimizer step, learnt
    assert [h["step"] for h in summary["history"]] == [16, 32, 48]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("PlainData holds no d2lab in-memory data" in m for m in messages) == 1
    assert sum("closed form  skipped: PlainData holds no in-memory" in m for m in messages) == 1
    assert "test/loss" in summary and summary["closed_form_skipped"].startswith("PlainData")
