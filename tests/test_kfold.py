"""K-fold cross-validation as a sweep dimension: `data.num_folds=K data.fold=i` on every in-memory data set, the
report's groups over folds, and an Optuna search on one configuration's mean over its folds."""

import csv
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from d2lab.data.airfoil import Airfoil
from d2lab.data.fashion_mnist import FashionMNISTData
from d2lab.data.folds import fold_indices
from tests.conftest import read_metrics, run_cli
from tests.fashion_idx import write_fake_fashion_mnist

REPO = Path(__file__).resolve().parents[1]


def test_the_folds_partition_the_rows_and_follow_the_seed():
    folds = [fold_indices(103, 5, i, seed=7) for i in range(5)]
    vals = [set(val.tolist()) for _, val in folds]
    assert set().union(*vals) == set(range(103)) and sum(map(len, vals)) == 103  # every row validates once
    assert {len(v) for v in vals} == {20, 21}
    for train, val in folds:
        assert not set(train.tolist()) & set(val.tolist()) and len(train) + len(val) == 103
    assert torch.equal(fold_indices(103, 5, 2, seed=7)[1], folds[2][1])  # the same seed, the same folds
    assert not torch.equal(fold_indices(103, 5, 2, seed=8)[1], folds[2][1])


def test_a_fold_validates_on_its_rows_and_trains_on_the_others():
    whole = Airfoil()
    whole.setup()
    features = whole.train_set[0]
    data = Airfoil(num_folds=5, fold=3, seed=1)
    data.setup()
    _, val = fold_indices(1500, 5, 3, seed=1)
    assert len(data.train_set[0]) == 1200 and torch.equal(data.val_set[0], features[val])
    assert data.test_set is data.val_set  # airfoil has no test split of its own: its test is the validation fold


def test_a_data_set_with_its_own_test_split_keeps_it_untouched(tmp_path):
    files = write_fake_fashion_mnist(tmp_path, n_train=50, n_test=20)
    data = FashionMNISTData(data_dir=str(tmp_path), download=False, num_folds=5, fold=0, val_fraction=0.1)
    data.setup()
    assert len(data.train_set[1]) == 40 and len(data.val_set[1]) == 10  # val_fraction gives way to the fold
    assert torch.equal(data.test_set[1], files["test_y"].long())


@pytest.mark.slow
def test_a_five_fold_sweep_is_reported_as_groups_over_its_folds(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("-m", "d2lab.train", "-m", "data=airfoil", "data.num_folds=5", "data.fold=range(5)",
                     "optimizer.lr=0.01,0.1", "trainer.max_epochs=1", "~logger", "hydra/launcher=parallel",
                     "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}", cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    vals = {read_metrics(job)["val/loss"] for job in sweep.iterdir() if job.name.isdigit()}
    assert len(vals) == 10  # each fold validates on other rows
    result = run_cli("-m", "d2lab.report", str(sweep), cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    groups = list(csv.DictReader((sweep / "groups.csv").open()))
    assert sorted(row["optimizer.lr"] for row in groups) == ["0.01", "0.1"]
    assert all(row["n"] == "5" and row["folds"] == "0,1,2,3,4" for row in groups)
    assert "differ only in `data.fold`" in (sweep / "groups.md").read_text()


@pytest.mark.slow
def test_an_optuna_search_can_score_each_configuration_by_its_mean_over_folds(tmp_path):
    script = REPO / "scripts" / "optuna_over_folds.py"
    result = run_cli(str(script), "--trials", "2", "--folds", "3", "--epochs", "1",
                     "--storage", f"sqlite:///{tmp_path / 'folds.db'}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "best mean val/loss over 3 folds" in result.stdout

    import optuna

    study = optuna.load_study(study_name="optuna_over_folds", storage=f"sqlite:///{tmp_path / 'folds.db'}")
    assert len(study.trials) == 2
    for trial in study.trials:
        folders = [Path(folder) for folder in trial.user_attrs["fold_dirs"]]
        assert [OmegaConf.load(f / ".hydra" / "config.yaml").data.fold for f in folders] == [0, 1, 2]
        assert trial.value == pytest.approx(sum(read_metrics(f)["best"] for f in folders) / 3)
