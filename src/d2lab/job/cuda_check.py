"""Torch's own CUDA check on a machine without a GPU, where Lightning's fork-safe one costs every optimizer step.

Importing Lightning sets `PYTORCH_NVML_BASED_CUDA_CHECK=1`, so that `torch.cuda.is_available()` asks NVML instead
of initializing CUDA, which would leave forked workers unable to use a GPU. NVML's answer is not cached, though,
and where it finds no GPU torch asks the CUDA runtime anyway. Torch's Adam, RMSprop and Adadelta call
`torch.cuda.is_available()` at every step (their graph-capture check), so a CPU-only machine with a CUDA build of
torch pays that search at every optimizer step (docs/benchmarks.md). Without a visible GPU there is no CUDA to
protect from a fork, so d2lab sets the variable back to torch's default check, which is cached. A machine with a
GPU keeps Lightning's setting.
"""

import os

import torch

VARIABLE = "PYTORCH_NVML_BASED_CUDA_CHECK"


def use_cached_cuda_check_without_gpus() -> None:
    """After Lightning's import: torch's cached CUDA check where no GPU is visible."""
    if os.environ.get(VARIABLE) == "1" and torch.cuda.device_count() == 0:
        os.environ[VARIABLE] = "0"
