"""The book's protocol, `data.validate_on=test`, validates on the test images: whatever chooses by a validation
score would then choose on them, and the test score it reports would flatter the model."""

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from d2lab.checks.arguments import locate, parameters
from d2lab.errors import ConfigError


def check_nothing_chosen_on_test_images(cfg: DictConfig) -> None:
    data = cfg.get("data")
    if not isinstance(data, DictConfig) or data.get("validate_on") != "test" or data.get("num_folds") is not None:
        return  # with folds, the data module refuses the pair in its own words
    if not takes_validate_on(data.get("_target_")):
        return  # check_config refuses the key in its words
    callbacks = cfg.get("callbacks") or {}
    chosen = []
    if cfg.get("test", True) and cfg.get("test_ckpt", "best") == "best" and callbacks.get("model_checkpoint"):
        chosen.append("test_ckpt=best would test the checkpoint chosen")
    if any(isinstance(c, DictConfig) and "EarlyStopping" in str(c.get("_target_")) for c in callbacks.values()):
        chosen.append("early stopping would pick its last epoch")
    if HydraConfig.initialized() and "optuna" in str(HydraConfig.get().sweeper.get("_target_")).lower():
        chosen.append("the Optuna search would rank its trials")
    if chosen:
        raise ConfigError(
            f"data.validate_on=test validates on the test images, so {' and '.join(chosen)} on them, and the test "
            "score would flatter the model. The book's protocol is data.validate_on=test test_ckpt=last with no "
            "early stopping and no search; for choosing, keep data.validate_on=heldout."
        )


def takes_validate_on(target: object) -> bool:
    """Whether the data's class takes `validate_on`, as check_config reads its arguments."""
    try:
        params, _, takes_others = parameters(locate("data", str(target)))
    except ConfigError:  # no such class: check_config says so
        return False
    return "validate_on" in params or takes_others
