"""The regression data modules: in memory, seeded, batched by slicing."""

import pytest
import torch

from d2lab.data.airfoil import Airfoil
from d2lab.data.batches import TensorBatches
from d2lab.data.synthetic import SyntheticRegression
from d2lab.data.thermometer import T_U, Thermometer
from d2lab.errors import ConfigError, DataMissingError


def test_batches_cover_every_example_once_per_epoch_and_reshuffle():
    x = torch.arange(23).unsqueeze(1)
    loader = TensorBatches(x, x * 2, batch_size=5, shuffle=True, seed=1)
    assert len(loader) == 5
    epochs = [torch.cat([bx for bx, _ in loader]).flatten() for _ in range(2)]
    for seen in epochs:
        assert sorted(seen.tolist()) == list(range(23))
    assert not torch.equal(epochs[0], epochs[1])
    assert all(torch.equal(by, bx * 2) for bx, by in loader)
    assert len(TensorBatches(x, x, batch_size=5, drop_last=True)) == 4


def test_synthetic_follows_its_parameters_and_seed():
    dm = SyntheticRegression(w=[1.0, -2.0, 0.5], b=0.7, num_examples=500, noise_std=0.0, seed=3)
    dm.setup()
    x, y = dm.train_set
    assert x.shape == (400, 3) and dm.val_set[0].shape == (100, 3)
    torch.testing.assert_close(y, x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.7)
    again = SyntheticRegression(w=[1.0, -2.0, 0.5], b=0.7, num_examples=500, noise_std=0.0, seed=3)
    again.setup()
    assert torch.equal(again.train_set[0], x)


def test_synthetic_random_w_and_mismatch():
    dm = SyntheticRegression(w=None, num_features=7)
    assert dm.num_features == 7 and dm.true_w.shape == (7,)
    with pytest.raises(ConfigError, match="num_features=3 does not match"):
        SyntheticRegression(w=[1.0, 2.0], num_features=3)


def test_airfoil_is_the_books_standardized_data():
    dm = Airfoil(batch_size=10)
    dm.setup()
    x, y = dm.train_set
    assert x.shape == (1500, 5) and y.shape == (1500, 1)
    assert dm.val_set[0] is x  # val_fraction=0: the book reports the loss on its training data
    assert abs(x.mean().item()) < 0.05 and 0.9 < x.std().item() < 1.1


def test_airfoil_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.dat"
    with pytest.raises(DataMissingError, match="nope.dat"):
        Airfoil(path=str(missing))


def test_thermometer_input_scales():
    raw, scaled, std = (Thermometer(input_scale=s) for s in ("none", 0.1, "standardize"))
    for dm in (raw, scaled, std):
        dm.setup()
    assert raw.train_set[0].flatten().tolist() == pytest.approx(T_U)
    torch.testing.assert_close(scaled.train_set[0], raw.train_set[0] * 0.1)
    assert abs(std.train_set[0].mean().item()) < 1e-5
    with pytest.raises(ConfigError, match="Valid choices"):
        Thermometer(input_scale="log")


@pytest.mark.parametrize("batch_size", [0, -3, 2.5])
def test_bad_batch_size_is_refused(batch_size):
    with pytest.raises(ConfigError, match=f"data.batch_size={batch_size}"):
        SyntheticRegression(batch_size=batch_size)
