"""The small costs that shape d2lab's fast path, each measured against the way the code avoids, in µs.

Each figure is the median over rounds of a timed loop; the two ways run interleaved in the same process, so a
shared machine's drift hits both. These are the figures the code's comments point to.

    python scripts/bench_costs.py
"""

import os
import statistics
import time
import warnings
from collections.abc import Callable

import lightning as L
import torch
from lightning.fabric.utilities import move_data_to_device

from d2lab.data.airfoil import Airfoil
from d2lab.models.linear import LinearNet


def interleaved(ways: dict[str, Callable[[], object]], calls: int = 200, rounds: int = 30) -> dict[str, float]:
    """µs per call of each way: the median over `rounds` of `calls` calls, the ways taking turns."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            start = time.perf_counter()
            for _ in range(calls):
                way()
            times[name].append((time.perf_counter() - start) / calls * 1e6)
    return {name: statistics.median(t) for name, t in times.items()}


class StepCosts(L.LightningModule):
    """Inside a real fit: what one optimizer step on LinearNet at batch 10 costs through each of Lightning's
    wrappers, and what one `self.log` call costs."""

    results: dict[str, float] = {}

    def __init__(self) -> None:
        super().__init__()
        self.net = LinearNet(5)
        self.automatic_optimization = False

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1e-4)

    def training_step(self, batch, batch_idx: int) -> None:
        x, y = torch.randn(10, 5), torch.randn(10, 1)
        optimizer, net = self.optimizers(), self.net
        bare = optimizer.optimizer

        def loss():
            return 0.5 * torch.mean((net(x) - y) ** 2)

        value = torch.tensor(1.0)
        StepCosts.results = interleaved(
            {
                "torch optimizer, autograd backward": lambda: (bare.zero_grad(), loss().backward(), bare.step()),
                "Lightning optimizer, autograd backward": lambda: (
                    optimizer.zero_grad(),
                    loss().backward(),
                    optimizer.step(),
                ),
                "Lightning optimizer, manual_backward": lambda: (
                    optimizer.zero_grad(),
                    self.manual_backward(loss()),
                    optimizer.step(),
                ),
                "self.log of one epoch metric": lambda: self.log(
                    "x", value, on_step=False, on_epoch=True, batch_size=10
                ),
            }
        )

    def train_dataloader(self):
        return [0]


def step_costs() -> dict[str, float]:
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    trainer = L.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(StepCosts())
    return StepCosts.results


def data_costs() -> dict[str, float]:
    data = Airfoil(batch_size=100, steps_per_call=1)
    data.setup()
    x, y = data.train_set
    minibatches = list(zip(x.split(100), y.split(100), strict=True))
    starts = range(0, len(x), 100)
    net = LinearNet(5)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-4)
    return interleaved(
        {
            "an epoch's 15 minibatches by split()": lambda: list(zip(x.split(100), y.split(100), strict=True)),
            "an epoch's 15 minibatches by slicing": lambda: [(x[i : i + 100], y[i : i + 100]) for i in starts],
            "15 minibatches already on the device: left as they are": lambda: minibatches[0][0].device,
            "15 minibatches already on the device: Lightning's move_data_to_device": lambda: move_data_to_device(
                minibatches, torch.device("cpu")
            ),
            "net.linear found on the module each time": lambda: net.linear,
            "a local variable": lambda: optimizer,
        },
        calls=500,
    )


def cuda_check_costs() -> dict[str, float]:
    """An Adam step, which asks `torch.cuda.is_available()` every time, under each of the two CUDA checks."""
    net = LinearNet(5)
    net(torch.zeros(1, 5)).sum().backward()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    variable = "PYTORCH_NVML_BASED_CUDA_CHECK"
    before = os.environ.get(variable)

    def step(check: str) -> None:
        os.environ[variable] = check
        optimizer.step()

    gpus = "a GPU" if torch.cuda.device_count() else "no GPU"
    costs = interleaved(
        {
            f"an Adam step, Lightning's NVML-based CUDA check ({gpus})": lambda: step("1"),
            f"an Adam step, torch's cached CUDA check ({gpus}; d2lab.job.cuda_check)": lambda: step("0"),
        }
    )
    if before is None:
        os.environ.pop(variable)
    else:
        os.environ[variable] = before
    return costs


def table() -> str:
    rows = {**step_costs(), **data_costs(), **cuda_check_costs()}
    lines = ["| what | µs per call |", "| --- | --- |"]
    lines += [f"| {name} | {value:.1f} |" for name, value in rows.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    print(table())
