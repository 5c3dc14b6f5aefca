"""The 11-point thermometer toy set from "Deep Learning with PyTorch" (chapter 5): Celsius from unknown units."""

import torch
from torch import Tensor

from d2lab.data.in_memory import InMemoryDataModule
from d2lab.errors import ConfigError

T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]
T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
INPUT_SCALES = ("none", 0.1, "standardize")


class Thermometer(InMemoryDataModule):
    """`input_scale` is `none` (raw units, where lr 1e-2 diverges), `0.1` (the book's fix) or `standardize`."""

    num_features = 1

    def __init__(
        self,
        input_scale: str | float = "none",
        batch_size: int = 11,
        val_fraction: float = 0.0,
        num_features: int = 1,
        seed: int = 0,
        steps_per_call: int | str = "auto",
        num_folds: int | None = None,
        fold: int | None = None,
    ) -> None:
        super().__init__(batch_size, val_fraction, seed, steps_per_call, num_folds, fold)
        self.check_fixed_width(num_features, "thermometer")
        if input_scale is None:
            input_scale = "none"
        if input_scale not in INPUT_SCALES:
            raise ConfigError(
                f"data.input_scale={input_scale!r} is not a valid choice. "
                "Valid choices: none (raw units), 0.1 (the book's rescaling) or standardize."
            )
        self.input_scale = input_scale

    def load(self) -> tuple[Tensor, Tensor]:
        t_u = torch.tensor(T_U).unsqueeze(1)
        if self.input_scale == "standardize":
            t_u = (t_u - t_u.mean()) / t_u.std()
        elif self.input_scale != "none":
            t_u = t_u * self.input_scale
        return t_u, torch.tensor(T_C).unsqueeze(1)
