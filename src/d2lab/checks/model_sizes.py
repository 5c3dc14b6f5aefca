"""A model's whole-number arguments are sizes and counts (channels, hidden units, classes, blocks): torch would
stop on one below 1 deep inside a layer, or build a layer of width 0 and train it. This one rule covers a user's
own model too, from its signature alone; an argument whose own default is below 1 (a count that may be 0) is
exempt."""

from d2lab.checks.arguments import locate, parameters
from d2lab.checks.values import shown, whole
from d2lab.errors import ConfigError


def check_model_sizes(model: dict) -> None:
    params, _, _ = parameters(locate("model", model["_target_"]))
    for key, value in model.items():
        default = params[key].default if key in params else None
        if whole(default) and default < 1:
            continue
        values = value if isinstance(value, list) else [value]
        if any(whole(v) and v < 1 for v in values):
            raise ConfigError(f"model.{key}={shown(value)} is invalid: model sizes and counts are whole numbers >= 1.")
