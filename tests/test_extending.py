"""A user's own package, from outside d2lab: their model (a plain nn.Module), their data (a plain
LightningDataModule with DataLoaders, reading a CSV) and their config folder on `hydra.searchpath`. It runs alone,
with d2lab's own models, in a sweep and through the report, and its classes are checked as d2lab's are."""

import csv
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import read_metrics

MLP = '''
"""A multilayer perceptron: the user's own model."""

from torch import nn

from d2lab import D2LabError


class MLP(nn.Module):
    def __init__(self, in_features: int, hidden: int, out_features: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if not 0 <= dropout < 1:  # a range is the class's own to say; a D2LabError is printed as one paragraph
            raise D2LabError(f"model.dropout={dropout} is invalid: a probability in [0, 1).")
        # flattened first, so image data (Fashion-MNIST: num_features is the pixels) fits as well as rows
        layers = [nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout),
                  nn.Linear(hidden, out_features)]  # fmt: skip
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
'''

CSV_DATA = '''
"""The user's own data: a CSV of numbers, the features then the target, served by plain DataLoaders."""

import csv

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset, random_split


class CSVData(L.LightningDataModule):
    def __init__(
        self, path: str, num_features: int, num_classes: int | None = None, batch_size: int = 32, seed: int = 0
    ) -> None:
        super().__init__()
        self.path, self.num_features, self.num_classes = path, num_features, num_classes
        self.batch_size, self.seed = batch_size, seed

    def setup(self, stage: str) -> None:
        with open(self.path) as f:
            rows = torch.tensor([[float(v) for v in row] for row in csv.reader(f)])
        x, y = rows[:, :-1], rows[:, -1:]
        # regression: a column of targets, shaped like the model's output; classification: class indices
        data = TensorDataset(x, y.squeeze(1).long() if self.num_classes else y)
        parts = random_split(data, [0.6, 0.2, 0.2], generator=torch.Generator().manual_seed(self.seed))
        self.train_part, self.val_part, self.test_part = parts

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_part, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_part, batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_part, batch_size=self.batch_size)
'''

MODEL_YAML = """
_target_: my_ext.mlp.MLP
in_features: ${data.num_features}
hidden: 16
out_features: ${oc.select:data.num_classes,1}
"""

DATA_YAML = """
defaults:
  - /task@_global_.task: {task}
_target_: my_ext.csv_data.CSVData
path: {path}
num_features: 3
batch_size: 16
seed: ${{seed}}
"""

EXPERIMENT_YAML = """
# @package _global_
defaults:
  - override /data: my_csv
  - override /model: mlp
task_name: my_exp
trainer:
  max_epochs: 2
callbacks:
  curve:
    val_every_n_examples: 40
hydra:
  mode: MULTIRUN
  sweeper:
    params:
      optimizer.lr: 0.03,0.1
      seed: 0,1
"""

QUIET = ("~logger", "trainer.enable_progress_bar=false", "print_config=false")


@pytest.fixture(scope="module")
def user(tmp_path_factory) -> Path:
    """The user's folder: the package my_ext, its config folder conf/, and two CSVs of 200 rows."""
    root = tmp_path_factory.mktemp("user")
    rng = random.Random(0)
    rows = [[rng.gauss(0, 1) for _ in range(3)] for _ in range(200)]
    with (root / "rows.csv").open("w", newline="") as f:
        csv.writer(f).writerows([*x, 2 * x[0] - x[1] + 0.5 * x[2] + 1 + rng.gauss(0, 0.05)] for x in rows)
    with (root / "classes.csv").open("w", newline="") as f:
        csv.writer(f).writerows([*x, int(x[0] > 0.5) + int(x[0] > -0.5)] for x in rows)
    files = {
        "my_ext/__init__.py": "",
        "my_ext/mlp.py": MLP,
        "my_ext/csv_data.py": CSV_DATA,
        "conf/model/mlp.yaml": MODEL_YAML,
        "conf/data/my_csv.yaml": DATA_YAML.format(task="regression", path=root / "rows.csv"),
        "conf/data/my_csv_classes.yaml": DATA_YAML.format(task="classification", path=root / "classes.csv")
        + "num_classes: 3\n",
        "conf/experiment/my_exp.yaml": EXPERIMENT_YAML,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.lstrip())
    return root


def run_user(user: Path, *args: str) -> subprocess.CompletedProcess:
    """`python <args>` from the user's folder, with their package importable and their conf/ on Hydra's path."""
    env = {**os.environ, "PYTHONPATH": str(user), "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, *args]
    if args[:2] == ("-m", "d2lab.train"):
        command.append(f"hydra.searchpath=[file://{user / 'conf'}]")
    return subprocess.run(command, cwd=user, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_d2labs_linear_model_on_a_plain_data_module(user, tmp_path):
    """The closed form and the grouped path need d2lab's in-memory data: each steps aside with one line."""
    result = run_user(user, "-m", "d2lab.train", "model=linear", "data=my_csv", "trainer.max_epochs=2", *QUIET,
                      f"hydra.run.dir={tmp_path}")  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    metrics = read_metrics(tmp_path)
    assert metrics["status"] == "ok" and metrics["val/loss"] < 5
    assert "closed_form" not in metrics
    lines = output.splitlines()
    assert len([line for line in lines if "closed form" in line]) == 1  # skipped, and why
    assert len([line for line in lines if "fast path" in line]) == 1  # one minibatch per Lightning step


@pytest.mark.slow
def test_own_model_on_own_classification_data(user, tmp_path):
    """The data's yaml picks the task (classification), and the model reads its class count from the data."""
    result = run_user(user, "-m", "d2lab.train", "model=mlp", "data=my_csv_classes", "trainer.max_epochs=2", *QUIET,
                      f"hydra.run.dir={tmp_path}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = read_metrics(tmp_path)
    assert metrics["status"] == "ok" and metrics["monitor"] == "val/acc" and 0 <= metrics["val/acc"] <= 1
    config = (tmp_path / ".hydra" / "config.yaml").read_text()
    assert "my_ext.mlp.MLP" in config and "ClassificationTask" in config


@pytest.mark.slow
def test_own_experiment_sweeps_and_reports(user, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_user(user, "-m", "d2lab.train", "experiment=my_exp", "~logger", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = [read_metrics(sweep / str(n)) for n in range(4)]
    assert [job["status"] for job in jobs] == ["ok"] * 4
    assert all(len(job["history"]) > 3 for job in jobs)  # the book's cadence: a point every 40 examples
    result = run_user(user, "-m", "d2lab.report", str(sweep))
    assert result.returncode == 0, result.stderr[-3000:]
    groups = list(csv.DictReader((sweep / "groups.csv").open()))
    assert sorted(row["optimizer.lr"] for row in groups) == ["0.03", "0.1"] and {row["n"] for row in groups} == {"2"}
    assert (sweep / "loss_curves.png").is_file() and "4 jobs: 4 ok" in (sweep / "summary.md").read_text()


@pytest.mark.slow
def test_own_classes_are_checked_and_listed(user, tmp_path):
    """A model that does not fit the data names the user's model among those that do; the user's classes are
    checked from their own signatures, and their own range checks are one paragraph too."""
    result = run_user(user, "-m", "d2lab.train", "model=lenet", "data=my_csv", *QUIET, f"hydra.run.dir={tmp_path}")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    fits = re.search(r"Models that fit data=my_csv: ([^.]*)\.", result.stderr)
    assert fits is not None, result.stderr[-3000:]
    assert {"linear", "mlp"} <= set(fits.group(1).split(", "))
    sweep = tmp_path / "sweep"
    result = run_user(user, "-m", "d2lab.train", "-m", "model=mlp", "data=my_csv", "model.hidden=wide,0,8",
                      "+model.dropout=1.5", *QUIET, f"hydra.sweep.dir={sweep}")  # fmt: skip
    errors = [read_metrics(sweep / n).get("error") for n in ("0", "1", "2")]
    assert errors == [
        "model.hidden='wide' is invalid: MLP takes a whole number.",  # from the class's signature
        "model.hidden=0 is invalid: model sizes and counts are whole numbers >= 1.",  # d2lab's rule for any model
        "model.dropout=1.5 is invalid: a probability in [0, 1).",  # the class's own
    ], result.stderr[-3000:]
