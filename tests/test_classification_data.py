"""Fashion-MNIST: IDX files through torchvision's parser, the split, the batch transform, the missing-data message."""

import gzip
import re

import pytest
import torch

from d2lab.data.fashion_mnist import FILES, FashionMNISTData
from d2lab.errors import ConfigError, DataMissingError
from tests.fashion_idx import REAL_RAW, idx_bytes, link_real_fashion_mnist, write_fake_fashion_mnist


def test_gzip_idx_files_load_through_torchvision(tmp_path) -> None:
    written = write_fake_fashion_mnist(tmp_path, n_train=60, n_test=20)
    data = FashionMNISTData(data_dir=str(tmp_path), download=False, batch_size=8, val_fraction=0.25, seed=3)
    data.setup("fit")
    train_x, train_y = data.train_set
    val_x, val_y = data.val_set
    assert train_x.dtype == torch.uint8 and train_x.shape == (45, 1, 28, 28) and val_x.shape == (15, 1, 28, 28)
    assert train_y.dtype == torch.int64
    # validation comes from the training files, with nothing lost or repeated; test is the test files
    assert sorted(torch.cat([train_y, val_y]).tolist()) == sorted(written["train_y"].tolist())
    assert torch.equal(torch.cat([train_x, val_x]).sum(), written["train_x"].long().sum())
    test_x, test_y = data.test_set
    assert torch.equal(test_x[:, 0], written["test_x"]) and torch.equal(test_y, written["test_y"].long())
    # torchvision unpacked the archives beside themselves
    assert all((tmp_path / "FashionMNIST" / "raw" / name).is_file() for name in FILES)


def test_batches_are_scaled_and_resized_whole(tmp_path) -> None:
    write_fake_fashion_mnist(tmp_path)
    data = FashionMNISTData(data_dir=str(tmp_path), download=False, batch_size=16, val_fraction=0.25)
    data.setup("fit")
    batches = list(data.train_dataloader())
    assert len(batches) == 3 and batches[0][0].dtype in (torch.uint8, torch.int64)  # raw bytes until the hook
    x, y = data.on_after_batch_transfer(batches[0], 0)
    assert x.shape == (16, 1, 28, 28) and x.dtype == torch.float32 and y.shape == (16,)
    # every image arrives whole and with its own label, scaled to [0, 1] as ToTensor does
    train_x, train_y = data.train_set
    for image, label in zip((x * 255).round().to(torch.uint8), y, strict=True):
        same = (train_x == image).flatten(1).all(dim=1)
        assert same.any() and (train_y[same] == label).all()
    assert {int(t) for _, labels in batches for t in labels} <= set(train_y.tolist())
    data.resize, data.normalize = 96, True
    big, _ = data.on_after_batch_transfer(batches[0], 0)
    assert big.shape == (16, 1, 96, 96)
    restored = big * 0.3530 + 0.2860
    assert torch.allclose(restored.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.01)  # resizing keeps brightness


def test_any_local_gzip_copy_is_accepted(tmp_path) -> None:
    """Debian's copies differ from the official archives in their gzip headers only: no md5 may block them."""
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images = torch.full((5, 28, 28), 7, dtype=torch.uint8)
    labels = torch.arange(5, dtype=torch.uint8)
    for name, array in zip(FILES, (images, labels, images, labels), strict=True):
        (raw / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array), mtime=123))
    data = FashionMNISTData(data_dir=str(tmp_path), download=False, val_fraction=0.2)
    data.setup("fit")
    assert data.test_set[1].tolist() == [0, 1, 2, 3, 4]


def test_missing_data_says_which_files_go_where(tmp_path) -> None:
    data = FashionMNISTData(data_dir=str(tmp_path / "nowhere"), download=False)
    with pytest.raises(DataMissingError) as info:
        data.prepare_data()
    message = str(info.value)
    for name in FILES:
        assert f"{name}.gz" in message
    assert f"{tmp_path / 'nowhere' / 'FashionMNIST' / 'raw'}/" in message
    assert "apt-get install dataset-fashion-mnist" in message and "../shared/data/FashionMNIST/raw/" in message
    assert "\n" not in message  # one paragraph


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"resize": 20}, "data.resize=20"), ({"num_classes": 100}, "data.num_classes=100"), ({"train_size": 0}, "0")],
)
def test_bad_values_are_named(kwargs: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        FashionMNISTData(**kwargs)


@pytest.mark.skipif(not REAL_RAW.is_dir(), reason="no real copy at ../shared/data/FashionMNIST/raw")
def test_real_copy_loads_offline(tmp_path) -> None:
    link_real_fashion_mnist(tmp_path)
    data = FashionMNISTData(data_dir=str(tmp_path), download=False, val_fraction=0.1)
    data.setup("fit")
    assert len(data.train_set[0]) == 54000 and len(data.val_set[0]) == 6000 and len(data.test_set[0]) == 10000
    assert torch.bincount(data.test_set[1]).tolist() == [1000] * 10
    assert not any(path.suffix != ".gz" for path in REAL_RAW.iterdir())  # nothing written into the shared copy


def test_the_books_protocol_trains_on_every_image_and_validates_on_the_test_images(tmp_path) -> None:
    written = write_fake_fashion_mnist(tmp_path, n_train=60, n_test=20)
    data = FashionMNISTData(data_dir=str(tmp_path), download=False, val_fraction=0.25, validate_on="test")
    data.setup("fit")
    assert torch.equal(data.train_set[1], written["train_y"].long())  # all 60, none held out
    assert data.val_set is data.test_set and torch.equal(data.val_set[1], written["test_y"].long())


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"validate_on": "train"}, "data.validate_on='train' is not a valid choice. Valid choices: heldout, test."),
        ({"validate_on": "test", "num_folds": 3, "fold": 0}, "data.validate_on=test with data.num_folds=3"),
    ],
)
def test_a_bad_validate_on_is_refused(tmp_path, arguments, expected) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        FashionMNISTData(data_dir=str(tmp_path), download=False, **arguments)
