"""Tiny Fashion-MNIST look-alikes in the real gzip IDX format, and a link farm for the real copy."""

import gzip
import struct
from pathlib import Path

import torch

from d2lab.data.fashion_mnist import FILES

REPO = Path(__file__).resolve().parents[1]
REAL_RAW = REPO.parent / "shared" / "data" / "FashionMNIST" / "raw"  # CI clones main with ../shared beside it


def idx_bytes(array: torch.Tensor) -> bytes:
    """IDX: two zero bytes, type 0x08 (uint8), the number of dims, each dim as big-endian int32, the data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.dim()) + struct.pack(f">{array.dim()}I", *array.shape)
    return header + array.numpy().tobytes()


def fake_split(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose brightness encodes the label, so the pixels can be checked against the labels."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=generator, dtype=torch.uint8)
    noise = torch.randint(0, 20, (n, 28, 28), generator=generator, dtype=torch.uint8)
    return noise + labels.view(-1, 1, 1) * 20, labels


def write_fake_fashion_mnist(data_dir: Path, n_train: int = 64, n_test: int = 32) -> dict[str, torch.Tensor]:
    """Write the four .gz files under data_dir/FashionMNIST/raw/ and return what they hold."""
    raw = Path(data_dir) / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    train_x, train_y = fake_split(n_train, seed=1)
    test_x, test_y = fake_split(n_test, seed=2)
    for name, array in zip(FILES, (train_x, train_y, test_x, test_y), strict=True):
        (raw / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


def link_real_fashion_mnist(data_dir: Path) -> Path:
    """Symlink the real .gz files into data_dir (they are unpacked there, never in the shared folder)."""
    raw = Path(data_dir) / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (raw / f"{name}.gz").symlink_to(REAL_RAW / f"{name}.gz")
    return raw
