"""TensorBoard scalars for a playground run: x (or x1, x2), f(x) and lr at each step, and the HParams row."""

import math
from pathlib import Path

from d2lab.playground.trajectory import Trajectory


def write_tensorboard(log_dir: Path, path: Trajectory, hparams: dict, final: dict[str, float]) -> None:
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    with SummaryWriter(str(log_dir)) as writer:
        for row in path.rows():
            for tag, value in row.items():
                if tag != "step" and math.isfinite(value):
                    writer.add_scalar(tag, value, row["step"])
        # The HParams summaries go into this same file (as Lightning's logger does), so one run is one folder.
        for summary in hparams_summary(hparams, final):
            writer.file_writer.add_summary(summary)
        for tag, value in final.items():
            if math.isfinite(value):
                writer.add_scalar(tag, value, len(path.values) - 1)
