"""User-facing errors: each carries one paragraph that names the bad value and the valid choices."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class D2LabError(Exception):
    """A problem the user can fix from the command line; printed without a traceback."""


class ConfigError(D2LabError, ValueError):
    """A config value is out of range or unknown."""


class DataMissingError(D2LabError, FileNotFoundError):
    """A data set is not where the config says it is."""


class DataFileError(D2LabError, ValueError):
    """A data file is there but cannot be read: truncated, corrupt, or not the table it should be."""


class SweepFailedError(D2LabError, RuntimeError):
    """Every job a sweep ran failed, or no trial of a search completed: the command did not do its work."""


class DivergedError(D2LabError, ArithmeticError):
    """The training loss became NaN or infinite."""

    def __init__(self, message: str, epoch: int, step: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step


def find_user_error(exc: BaseException) -> D2LabError | None:
    """The D2LabError behind `exc`, looking through wrappers such as Hydra's InstantiationException."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, D2LabError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


class TrialPruned(Exception):
    """An Optuna pruner stopped this trial: a result of the search, not a failure."""

    def __init__(self, message: str, step: int, validation: int, value: float) -> None:
        super().__init__(message)
        self.step = step
        self.validation = validation
        self.value = value


@contextmanager
def exit_on_user_error(prog: str = "d2lab") -> Iterator[None]:
    """Code outside a job (a sweeper): a D2LabError becomes its paragraph on stderr and exit status 1, where
    Hydra would print a traceback."""
    try:
        yield
    except D2LabError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
