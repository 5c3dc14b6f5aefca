"""The book's synthetic regression data: y = Xw + b + noise, with X drawn from N(0, 1)."""

import torch
from torch import Tensor

from d2lab.checks.values import check_number, check_whole_number
from d2lab.data.in_memory import InMemoryDataModule
from d2lab.errors import ConfigError


class SyntheticRegression(InMemoryDataModule):
    """`w=None` draws a seeded w of `num_features` entries; otherwise `num_features` must equal len(w)."""

    def __init__(
        self,
        w: list[float] | None = (2.0, -3.4),
        b: float = 4.2,
        num_features: int | None = None,
        num_examples: int = 1000,
        noise_std: float = 0.01,
        batch_size: int = 10,
        val_fraction: float = 0.2,
        seed: int = 0,
        steps_per_call: int | str = "auto",
        num_folds: int | None = None,
        fold: int | None = None,
    ) -> None:
        super().__init__(batch_size, val_fraction, seed, steps_per_call, num_folds, fold)
        generator = torch.Generator().manual_seed(seed)
        if w is None:
            check_whole_number(
                "data.num_features", num_features, 1, " (data.w=null draws a random w of that many entries)"
            )
            w = torch.randn(num_features, generator=generator).tolist()
        if num_features is not None and num_features != len(w):
            raise ConfigError(
                f"data.num_features={num_features} does not match data.w={list(w)} ({len(w)} entries). "
                "Set one of them only, or data.w=null to draw a random w of num_features entries."
            )
        check_whole_number("data.num_examples", num_examples, 2)
        check_number("data.noise_std", noise_std)
        self.true_w = torch.tensor(list(w), dtype=torch.float32)
        self.true_b = float(b)
        self.num_features = len(w)
        self.num_examples = num_examples
        self.noise_std = noise_std
        self._generator = generator

    def load(self) -> tuple[Tensor, Tensor]:
        features = torch.randn(self.num_examples, self.num_features, generator=self._generator)
        noise = torch.randn(self.num_examples, generator=self._generator) * self.noise_std
        targets = features @ self.true_w + self.true_b + noise
        return features, targets.unsqueeze(1)
