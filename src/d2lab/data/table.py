"""A table of numbers in a text file, one row per line, read so that a bad file is named with its line and value."""

import math
from pathlib import Path

import torch
from torch import Tensor

from d2lab.errors import DataFileError


def read_table(path: Path, columns: int, what: str, hint: str) -> Tensor:
    """Rows of `columns` whitespace-separated numbers as a float64 tensor; blank lines are skipped. Anything else
    (a header, a missing or extra column, a word, nan or inf, a binary file) is a DataFileError naming the line,
    then saying what `what` holds and the `hint`."""

    def refuse(problem: str) -> DataFileError:
        return DataFileError(f"data.path={str(path)!r} cannot be read as {what}: {problem}. {hint}")

    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise refuse("it is not a text file") from exc
    except OSError as exc:  # a folder, or no permission to read it
        raise refuse(f"it cannot be opened ({exc.strerror})") from exc
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != columns:
            raise refuse(f"line {number} has {len(fields)} columns, where {columns} are needed ({line.strip()[:80]!r})")
        try:
            row = [float(field) for field in fields]
        except ValueError:
            bad = next(field for field in fields if not is_number(field))
            raise refuse(f"line {number} holds {bad[:40]!r}, which is not a number") from None
        if not all(math.isfinite(value) for value in row):
            raise refuse(f"line {number} holds a value that is not finite ({line.strip()[:80]!r})")
        rows.append(row)
    if not rows:
        raise refuse("it has no rows")
    return torch.tensor(rows, dtype=torch.float64)


def is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True
