"""The UCI airfoil self-noise data, as the book's optimization chapter uses it.

Source: T. F. Brooks, D. S. Pope and M. A. Marcolini, "Airfoil Self-Noise", UCI Machine Learning
Repository, https://doi.org/10.24432/C5VW2C, licensed CC BY 4.0. The copy shipped beside this file
(`airfoil_self_noise.dat`, 1503 rows, tab-separated) is the one the book downloads.
"""

from pathlib import Path

from torch import Tensor

from d2lab.checks.values import check_whole_number
from d2lab.data.in_memory import InMemoryDataModule
from d2lab.data.table import read_table
from d2lab.errors import ConfigError, DataFileError, DataMissingError

PACKAGED_FILE = Path(__file__).with_name("airfoil_self_noise.dat")


class Airfoil(InMemoryDataModule):
    """Five standardized features predicting the standardized sound pressure level.

    As in the book: every column is standardized over all rows (population std), then the first
    `num_examples` rows are kept. `val_fraction=0` validates on those rows, the book's reported loss.
    """

    num_features = 5

    def __init__(
        self,
        path: str | None = None,
        num_examples: int = 1500,
        num_features: int = 5,
        batch_size: int = 10,
        val_fraction: float = 0.0,
        seed: int = 0,
        steps_per_call: int | str = "auto",
        num_folds: int | None = None,
        fold: int | None = None,
    ) -> None:
        super().__init__(batch_size, val_fraction, seed, steps_per_call, num_folds, fold)
        self.check_fixed_width(num_features, "airfoil")
        self.path = Path(path) if path else PACKAGED_FILE
        if not self.path.is_file():
            raise DataMissingError(
                f"data.path={str(self.path)!r}: no such file. Point data.path at a copy of "
                "airfoil_self_noise.dat (tab-separated, 6 columns), or set data.path=null to use the copy "
                "shipped inside d2lab."
            )
        self.num_examples = check_whole_number("data.num_examples", num_examples, 2, " (the book uses 1500)")

    def load(self) -> tuple[Tensor, Tensor]:
        what = f"the airfoil table, rows of {self.num_features + 1} numbers (5 features, then the sound pressure level)"
        hint = (
            "Fix the file (tab- or space-separated, like airfoil_self_noise.dat), or set data.path=null to use the "
            "copy shipped inside d2lab."
        )
        data = read_table(self.path, self.num_features + 1, what, hint)
        if self.num_examples > len(data):
            raise ConfigError(
                f"data.num_examples={self.num_examples} is more than the {len(data)} rows of {self.path}: "
                f"use at most {len(data)} (the book uses 1500)."
            )
        std = data.std(dim=0, correction=0)
        if (std == 0).any():
            column = int((std == 0).nonzero()[0]) + 1
            raise DataFileError(
                f"data.path={str(self.path)!r}: column {column} holds the same value in every row, so it cannot be "
                "standardized; an airfoil table's columns all vary. Fix the file, or set data.path=null."
            )
        data = ((data - data.mean(dim=0)) / std)[: self.num_examples].float()
        return data[:, :-1].contiguous(), data[:, -1:].contiguous()
