"""Turn Hydra sweep overrides into Optuna distributions, and an Optuna trial back into overrides.

optimizer=choice(sgd, adam)              -> categorical
optimizer.lr=tag(log, interval(1e-3, 1)) -> float on a log scale
data.batch_size=range(8, 129, 8)         -> int with a step
hparams_search=airfoil_optuna            -> fixed: passed to every trial unchanged
"""

import math
from typing import TYPE_CHECKING

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, Transformer

if TYPE_CHECKING:  # Hydra imports every plugin module at each start: a run that is no search skips Optuna's import
    from optuna.distributions import BaseDistribution


def to_distribution(override: Override) -> "BaseDistribution":
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    value = override.value()
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if isinstance(value, RangeSweep):
        # Hydra's range stops before `stop`; Optuna's high is the last value taken.
        last = value.start + value.step * (math.ceil((value.stop - value.start) / value.step) - 1)
        if all(isinstance(v, int) for v in (value.start, value.stop, value.step)):
            return IntDistribution(value.start, last, step=value.step)
        return FloatDistribution(value.start, last, step=value.step)
    if isinstance(value, IntervalSweep):  # Hydra parses interval bounds as floats
        return FloatDistribution(float(value.start), float(value.end), log="log" in value.tags)
    raise ValueError(f"{override.input_line!r}: the Optuna sweeper takes choice(), range() or interval().")


def parse_search_space(arguments: list[str]) -> tuple[dict[str, "BaseDistribution"], list[str]]:
    """Split overrides into the search space (sweeps) and the fixed overrides every trial gets.

    A later override of the same key wins, so the command line can replace a config's search dimension.
    """
    by_key: dict[str, Override] = {}
    for override in OverridesParser.create().parse_overrides(arguments):
        by_key[override.get_key_element()] = override
    space = {k: to_distribution(o) for k, o in by_key.items() if o.is_sweep_override()}
    fixed = [o.input_line for o in by_key.values() if not o.is_sweep_override()]
    return space, fixed


def trial_overrides(params: dict[str, object]) -> list[str]:
    return [f"{key}={value}" for key, value in params.items()]
