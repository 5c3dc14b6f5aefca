"""Fashion-MNIST held once as uint8 tensors; scaling, resizing and normalization run on whole batches.

Files are read by torchvision's own `FashionMNIST` class from `<data_dir>/FashionMNIST/raw/`. Local .gz
archives are unpacked there without any network (also copies whose gzip headers differ from the official
ones, such as Debian's); only when they are absent does torchvision download them. Each unpacked file's IDX
header is checked against its size first, so a truncated or corrupt file is named, not met deep in a parser.
"""

import gzip
import logging
import math
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F
from torchvision.datasets import FashionMNIST

from d2lab.checks.values import check_choice, check_whole_number
from d2lab.data.in_memory import InMemoryDataModule
from d2lab.errors import ConfigError, DataFileError, DataMissingError

log = logging.getLogger("d2lab")
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MEAN, STD = 0.2860, 0.3530  # over the 60k training images, after scaling to [0, 1]


def raw_folder(data_dir: str | Path) -> Path:
    return Path(data_dir).expanduser().resolve() / "FashionMNIST" / "raw"


def missing_message(data_dir: str | Path, reason: str) -> str:
    raw = raw_folder(data_dir)
    names = ", ".join(f"{name}.gz" for name in FILES)
    return (
        f"Fashion-MNIST is not in data.data_dir={str(data_dir)!r} and {reason}. Put the four files {names} "
        f"(or their unpacked versions) into the folder {raw}/ . Offline, "
        "`apt-get install dataset-fashion-mnist` installs them under /usr/share/datasets/fashion-mnist/, "
        "and a shared copy may be at ../shared/data/FashionMNIST/raw/: copy or symlink the four files "
        "(don't point data_dir at a read-only copy, since they are unpacked beside themselves). Or set "
        "paths.data_dir (or data.data_dir) to the folder that holds FashionMNIST/raw/, or run once with "
        "internet and data.download=true."
    )


def corrupt_message(path: Path, problem: str) -> str:
    unpacked_from = f" (and {path.name}.gz beside it, if it came from there)" if path.suffix != ".gz" else ""
    return (
        f"The Fashion-MNIST file {path} is truncated or corrupt: {problem}. Delete it{unpacked_from} and download "
        "it again (data.download=true, with internet) or copy it again from where you got it, such as "
        "../shared/data/FashionMNIST/raw/ or /usr/share/datasets/fashion-mnist/."
    )


def unpack(archive: Path) -> None:
    """Unpack name.gz beside itself, all or nothing. Not torchvision's extract_archive, which writes the target in
    place: a truncated archive would leave a half file there, read as data by the next run."""
    target = archive.with_suffix("")
    try:  # a name of this process's own: jobs of a sweep may unpack the same archive at once
        handle, name = tempfile.mkstemp(dir=archive.parent, prefix=f".{target.name}.", suffix=".partial")
    except PermissionError as exc:
        raise DataMissingError(
            f"Cannot unpack {archive} beside itself ({exc.strerror}): copy or symlink the four .gz files into a "
            f"folder you can write, and set paths.data_dir (or data.data_dir) to the folder holding FashionMNIST/raw/."
        ) from exc
    partial = Path(name)
    try:
        with gzip.open(archive) as source, os.fdopen(handle, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        os.replace(partial, target)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        said = str(exc).rstrip(".") or type(exc).__name__
        raise DataFileError(corrupt_message(archive, f"gzip says {said}")) from exc
    finally:
        partial.unlink(missing_ok=True)  # gone already where os.replace moved it


def idx_length(path: Path, dims: int) -> int:
    """How many images or labels an unpacked IDX file holds, once its header agrees with its size: two zero
    bytes, type 0x08 (uint8), the number of dims, each dim as a big-endian int32, then the values."""
    with path.open("rb") as file:
        header = file.read(4 + 4 * dims)
    if len(header) < 4 + 4 * dims or header[:4] != bytes((0, 0, 0x08, dims)):
        raise DataFileError(corrupt_message(path, f"its header is not that of a uint8 IDX file of {dims} dimension(s)"))
    shape = struct.unpack(f">{dims}I", header[4:])
    expected, size = len(header) + math.prod(shape), path.stat().st_size
    if size != expected:
        shown = " x ".join(map(str, shape))
        raise DataFileError(corrupt_message(path, f"it has {size} bytes, where its header ({shown}) says {expected}"))
    if dims == 3 and shape[1:] != (28, 28):
        raise DataFileError(corrupt_message(path, f"its images are {shape[1]} x {shape[2]} pixels, not 28 x 28"))
    return shape[0]


def check_files(raw: Path) -> None:
    """Each split's images and labels: whole IDX files, as many labels as images."""
    for images, labels in (FILES[:2], FILES[2:]):
        n_images, n_labels = idx_length(raw / images, 3), idx_length(raw / labels, 1)
        if n_images != n_labels:
            problem = f"it holds {n_labels} labels, but {images} holds {n_images} images"
            raise DataFileError(corrupt_message(raw / labels, problem))


def ensure_files(data_dir: str | Path, download: bool) -> None:
    """Unpack local archives; download only what is still missing (and only if allowed); check all four."""
    raw = raw_folder(data_dir)
    missing = [name for name in FILES if not (raw / name).is_file()]
    for name in list(missing):
        if (raw / f"{name}.gz").is_file():
            unpack(raw / f"{name}.gz")
            missing.remove(name)
    if missing and not download:
        raise DataMissingError(missing_message(data_dir, f"data.download=false (missing: {', '.join(missing)})"))
    if missing:
        try:
            FashionMNIST(str(Path(data_dir).expanduser()), download=True)
        except Exception as exc:  # offline: URLError wrapped in RuntimeError; read-only folder: OSError
            first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise DataMissingError(missing_message(data_dir, f"could not be downloaded ({first_line})")) from exc
    check_files(raw)


def load_split(data_dir: str | Path, train: bool) -> tuple[Tensor, Tensor]:
    """(N, 1, 28, 28) uint8 images and int64 labels, parsed by torchvision's class."""
    dataset = FashionMNIST(str(Path(data_dir).expanduser()), train=train, download=False)
    labels = dataset.targets.long()
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < 10:
        path = raw_folder(data_dir) / FILES[1 if train else 3]
        problem = f"it holds labels from {int(labels.min())} to {int(labels.max())}, where Fashion-MNIST has 0 to 9"
        raise DataFileError(corrupt_message(path, problem))
    return dataset.data.unsqueeze(1).contiguous(), labels


VALIDATE_ON = ("heldout", "test")


class FashionMNISTData(InMemoryDataModule):
    """60k training images (less `val_fraction` for validation) and the official 10k test images.

    `validate_on=test` is the book's protocol (train_ch6): train on all 60k and evaluate on the test images every
    epoch. Choosing a checkpoint there would select on the test set, so train.py then requires `test_ckpt=last`.

    Batches stay uint8 until `on_after_batch_transfer`, which scales them to [0, 1] (the book's ToTensor),
    resizes them to `resize` px and, with `normalize`, standardizes them; on a GPU the whole set lives on the
    device (`on_device`), so a batch is a gather there and nothing crosses the bus per step.
    """

    num_classes = 10
    in_channels = 1

    def __init__(
        self,
        data_dir: str = "data",
        download: bool = True,
        resize: int = 28,
        normalize: bool = False,
        batch_size: int = 256,
        eval_batch_size: int = 1024,
        val_fraction: float = 0.1,
        validate_on: str = "heldout",
        train_size: int | None = None,
        on_device: bool = True,
        num_classes: int = 10,
        in_channels: int = 1,
        num_features: int | None = None,
        seed: int = 0,
        num_folds: int | None = None,
        fold: int | None = None,
    ) -> None:
        super().__init__(batch_size, val_fraction, seed, num_folds=num_folds, fold=fold)
        if num_classes != 10 or in_channels != 1:
            raise ConfigError(
                f"data.num_classes={num_classes!r}, data.in_channels={in_channels!r}: Fashion-MNIST has 10 "
                "classes of 1-channel images; change the model's shape, not the data's."
            )
        check_whole_number(
            "data.resize",
            resize,
            28,
            " (pixels; 28 keeps the original images, the book uses 96 for ResNet and DenseNet)",
        )
        # configs pass data.num_features for flat models (softmax regression); it is set by the image size
        if num_features is not None and num_features != in_channels * resize * resize:
            raise ConfigError(
                f"data.num_features={num_features!r} is fixed by the images: in_channels * resize * resize = "
                f"{in_channels * resize * resize}. Change data.resize instead."
            )
        if train_size is not None and (isinstance(train_size, bool) or not 1 <= train_size <= 60000):
            raise ConfigError(f"data.train_size={train_size!r} is invalid: null (all 60000) or 1 to 60000.")
        check_choice("data.validate_on", validate_on, VALIDATE_ON)
        if validate_on == "test" and num_folds is not None:
            raise ConfigError(
                f"data.validate_on=test with data.num_folds={num_folds!r}: k-fold cross-validation validates on a "
                "fold of the training images. Use data.validate_on=heldout with folds, or drop data.num_folds."
            )
        self.validate_on = validate_on
        self.data_dir, self.download = data_dir, download
        self.resize, self.normalize = resize, normalize
        self.eval_batch_size = check_whole_number("data.eval_batch_size", eval_batch_size)
        self.train_size, self.on_device = train_size, on_device

    def state_dict(self) -> dict[str, int | str]:
        return {**super().state_dict(), "validate_on": self.validate_on}

    def load_state_dict(self, state_dict: dict[str, int | str]) -> None:
        # A resumed run's best score so far was taken on one kind of validation images: resumed on the other, its
        # checkpoint choice and curves would mix test and held-out scores.
        saved = state_dict.get("validate_on", "heldout")
        resuming = self.trainer is not None and self.trainer.state.fn == "fit"  # eval and test may validate anew
        if resuming and saved != self.validate_on:
            raise ConfigError(
                f"data.validate_on={self.validate_on} differs from the checkpoint's run, which validated with "
                f"data.validate_on={saved}: resume it with data.validate_on={saved}, or start a new run."
            )
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "validate_on"})

    def prepare_data(self) -> None:
        ensure_files(self.data_dir, self.download)

    def load(self) -> tuple[Tensor, Tensor]:
        ensure_files(self.data_dir, self.download)  # also when used without a Trainer
        self.test_set = load_split(self.data_dir, train=False)
        images, labels = load_split(self.data_dir, train=True)
        if self.train_size is not None:
            images, labels = images[: self.train_size], labels[: self.train_size]
        return images, labels

    def holdout_split(self, examples: int) -> tuple[Tensor, Tensor] | None:
        if self.validate_on == "test":
            unused = f"; data.val_fraction={self.val_fraction} is not used" if self.val_fraction else ""
            log.info("data.validate_on=test: training on all %d images, validating on the test images%s",
                     examples, unused)  # fmt: skip
            return None
        return super().holdout_split(examples)

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        if self.on_device and device.type != "cpu" and self.train_set[0].device != device:
            # 55 MB of uint8 in all: cheaper to keep on the GPU than to copy batch by batch.
            self.train_set, self.val_set, self.test_set = (
                tuple(t.to(device) for t in split) for split in (self.train_set, self.val_set, self.test_set)
            )
        if self.validate_on == "test":  # after the move, so the two stay one copy
            self.val_set = self.test_set

    def train_dataloader(self):
        batches = super().train_dataloader()
        images, labels = batches.tensors
        # Each epoch's shuffle gathers whole images; as 98 int64 instead of 784 uint8 it runs ~3x faster.
        batches.tensors = (images.view(len(images), -1).view(torch.int64), labels)
        return batches

    def val_dataloader(self):
        return self._eval_batches(self.val_set)

    def test_dataloader(self):
        return self._eval_batches(self.test_set)

    def _eval_batches(self, split: tuple[Tensor, Tensor]):
        from d2lab.data.batches import TensorBatches

        return TensorBatches(*split, batch_size=self.eval_batch_size)

    def transform(self, images: Tensor) -> Tensor:
        """uint8 (N, 1, 28, 28) to float (N, 1, resize, resize), on whatever device the batch is."""
        if images.dtype == torch.int64:  # packed by train_dataloader
            images = images.view(torch.uint8).view(len(images), 1, 28, 28)
        x = images * (1 / 255)  # one pass to float32
        if self.resize != x.shape[-1]:
            # bilinear like torchvision's Resize; upsampling needs no antialiasing
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        if self.normalize:
            x = x.sub_(MEAN).div_(STD)
        return x

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> tuple[Tensor, Tensor]:
        images, labels = batch
        x = self.transform(images)
        # Lightning converted the batch to the run's precision before this hook, when it was still uint8.
        return (self.trainer.precision_plugin.convert_input(x) if self.trainer else x), labels
