"""Whether the accelerator and the devices the Trainer asks for exist on this machine."""

from d2lab.checks.values import shown, whole
from d2lab.errors import ConfigError


def check_accelerator(trainer: dict) -> None:
    import torch

    accelerator = str(trainer.get("accelerator", "auto")).lower()
    mps = torch.backends.mps.is_available()
    if (accelerator == "cuda" or (accelerator == "gpu" and not mps)) and not torch.cuda.is_available():
        cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA"
        raise ConfigError(
            f"trainer.accelerator={accelerator!r}: no CUDA GPU is visible here (torch.cuda.is_available() is False; "
            f"torch {torch.__version__} was built with {cuda}). trainer=cpu runs on the CPU; on a GPU machine "
            "check nvidia-smi and CUDA_VISIBLE_DEVICES."
        )
    if accelerator == "mps" and not mps:
        raise ConfigError(
            "trainer.accelerator='mps': no Apple MPS device is here (torch.backends.mps.is_available() is False). "
            "trainer=cpu runs on the CPU."
        )
    # Lightning's own message for too many GPUs ("You requested gpu: [0, 1]") does not name trainer.devices.
    wanted = trainer.get("devices", "auto")
    if accelerator in ("gpu", "cuda") and torch.cuda.is_available() and (whole(wanted) or isinstance(wanted, list)):
        count = torch.cuda.device_count()
        if (max(wanted) + 1 if isinstance(wanted, list) else wanted) > count:
            raise ConfigError(
                f"trainer.devices={shown(wanted)} asks for more GPUs than the {count} visible here: use a number "
                f"from 1 to {count}, indices from 0 to {count - 1}, or -1 for all."
            )
