"""Torch's cached CUDA check where no GPU is visible, in place of the NVML one Lightning's import sets.

`PYTORCH_NVML_BASED_CUDA_CHECK=1` keeps `torch.cuda.is_available()` from starting CUDA, so that forked workers can
still use a GPU. Without NVML (a machine with no NVIDIA driver) torch tries to load it again at every call, and Adam,
AdamW, RMSprop, Adadelta and torch's other optimizers with a graph-capture check call it at every step
(docs/benchmarks.md). With no GPU visible there is no CUDA for a fork to break, so torch's own check is put back.
"""

import os

import torch

VARIABLE = "PYTORCH_NVML_BASED_CUDA_CHECK"


def use_cached_cuda_check_without_gpus() -> None:
    """After Lightning's import: torch's cached CUDA check where no GPU is visible; a GPU keeps Lightning's."""
    if os.environ.get(VARIABLE) == "1" and torch.cuda.device_count() == 0:
        os.environ[VARIABLE] = "0"
