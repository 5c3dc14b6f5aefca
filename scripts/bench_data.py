"""Fashion-MNIST input pipeline speed: d2lab's in-memory batches against the book's DataLoader.

The book: `DataLoader(FashionMNIST(transform=ToTensor()), batch_size=256, shuffle=True, num_workers=...)`,
a PIL image and a tensor per sample. d2lab: one uint8 gather per epoch, then per batch a slice and the
batch-wide scale/resize of `FashionMNISTData.transform` (on the GPU when one is given). Both produce float
batches ready for the net; worker start-up counts, as it does in every epoch of a real run.

    python scripts/bench_data.py --data-dir data                  # 28 px, CPU, 0 and 2 workers
    python scripts/bench_data.py --data-dir data --resize 96 --device cuda
"""

import argparse
import time

import torch
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import FashionMNIST

from d2lab.data.fashion_mnist import FashionMNISTData, ensure_files


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def d2lab_images_per_s(
    data_dir: str, resize: int = 28, batch_size: int = 256, device: str = "cpu", epochs: int = 5
) -> float:
    """Images/s of d2lab's training batches, transform included; the best epoch of `epochs`."""
    device = torch.device(device)
    data = FashionMNISTData(data_dir=data_dir, download=False, resize=resize, batch_size=batch_size, val_fraction=0)
    data.setup("fit")
    data.train_set = tuple(t.to(device) for t in data.train_set)  # what setup does under a GPU Trainer
    loader = data.train_dataloader()
    rates = []
    for _ in range(epochs):
        _sync(device)
        start, n = time.perf_counter(), 0
        for batch in loader:
            images, labels = data.on_after_batch_transfer(batch, 0)
            n += len(labels)
        _sync(device)
        rates.append(n / (time.perf_counter() - start))
    return max(rates)  # the least disturbed epoch: this machine's CPUs are shared


def book_images_per_s(
    data_dir: str,
    num_workers: int = 0,
    resize: int = 28,
    batch_size: int = 256,
    max_images: int = 10240,
    repeats: int = 2,
) -> float:
    """Images/s of the book's loader over the first `max_images` of a shuffled epoch (the rate is flat),
    the best of `repeats` passes, each with its workers' start-up."""
    ensure_files(data_dir, download=False)
    steps = [transforms.Resize(resize)] if resize != 28 else []
    dataset = FashionMNIST(data_dir, train=True, transform=transforms.Compose([*steps, transforms.ToTensor()]))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers)
    rates = []
    for _ in range(repeats):
        start, n = time.perf_counter(), 0
        for _images, labels in loader:
            n += len(labels)
            if n >= max_images:
                break
        rates.append(n / (time.perf_counter() - start))
    return max(rates)


def compare(data_dir: str, resize: int, device: str, workers: list[int]) -> list[dict]:
    ours = d2lab_images_per_s(data_dir, resize=resize, device=device)
    rows = [{"pipeline": f"d2lab in-memory ({device})", "resize": resize, "images_per_s": ours, "ratio": 1.0}]
    for w in workers:
        rate = book_images_per_s(data_dir, num_workers=w, resize=resize)
        rows.append({"pipeline": f"book DataLoader, {w} workers", "resize": resize, "images_per_s": rate})
        rows[-1]["ratio"] = ours / rate
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'pipeline':34} {'px':>4} {'images/s':>12} {'d2lab is':>10}")
    for r in rows:
        print(f"{r['pipeline']:34} {r['resize']:>4} {r['images_per_s']:>12,.0f} {r['ratio']:>9.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", help="the folder that holds FashionMNIST/raw/")
    parser.add_argument("--resize", type=int, nargs="+", default=[28])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = [row for size in args.resize for row in compare(args.data_dir, size, args.device, args.workers)]
    print_table(rows)


if __name__ == "__main__":
    main()
