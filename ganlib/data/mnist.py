"""MNIST and Fashion-MNIST, offline first.

Search order: an explicit path, `$GANLIB_DATA_DIR/<name>`, the repo's `data/<name>`, the
system's copy (Debian's `dataset-fashion-mnist`), the Keras cache, then a verified download
into the data directory unless offline. Nothing fake is ever returned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .download import fetch
from .idx import DataFileError, read_idx
from .locate import candidate_folders as _candidates
from .locate import download_folder, find_or_fetch
from .registry import ArrayDataset, register

KERAS_MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DIGITS = tuple(str(i) for i in range(10))

# SHA-256 of the *decompressed* IDX files (robust to a mirror recompressing them).
FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",  # noqa: E501
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",  # noqa: E501
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
# SHA-256 of Keras's mnist.npz (the hash keras.datasets.mnist checks).
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

_PREFIX = {"train": "train", "test": "t10k"}


def _idx_pair(folder: Path, split: str):
    """(images, labels) from IDX files in `folder`, gzipped or not; None if absent."""
    pair = []
    for kind in ("images-idx3", "labels-idx1"):
        stem = f"{_PREFIX[split]}-{kind}-ubyte"
        found = [p for p in (folder / f"{stem}.gz", folder / stem) if p.is_file()]
        if not found:
            return None
        pair.append(read_idx(found[0]))
    return pair


def _npz_pair(folder: Path, split: str):
    path = folder / "mnist.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return f[f"x_{split}"], f[f"y_{split}"]
    except (OSError, ValueError, KeyError) as e:
        raise DataFileError(f"{path} is not a readable MNIST npz ({e}); delete it.") from e


def _download(name: str) -> Path:
    folder = download_folder(name)
    if name == "fashion_mnist":
        for fname, digest in FASHION_SHA256.items():
            fetch(KERAS_MIRROR + fname, folder / fname, digest, gunzip_hash=True)
    else:
        fetch(KERAS_MIRROR + "mnist.npz", folder / "mnist.npz", MNIST_NPZ_SHA256)
    return folder


def _check(name: str, split: str, x: np.ndarray, y: np.ndarray, where: Path) -> None:
    if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
        raise DataFileError(f"{where}: {name} images should be N x 28 x 28 uint8, got {x.shape}.")
    if len(x) != len(y) or y.min() < 0 or y.max() > 9:
        raise DataFileError(f"{where}: {name} labels do not match the images or are not 0-9.")


def _read(name: str, split: str, folder: Path, classes) -> ArrayDataset | None:
    readers = (_idx_pair,) if name == "fashion_mnist" else (_idx_pair, _npz_pair)
    for reader in readers:
        pair = reader(folder, split)
        if pair is not None:
            x, y = pair
            _check(name, split, x, y, folder)
            return ArrayDataset(name, split, x[..., None], y.astype(np.int64), str(folder), 10,
                                classes)
    return None


def _load(name: str, split: str, path, classes) -> ArrayDataset:
    debian = " or `apt-get install dataset-fashion-mnist`" if name == "fashion_mnist" else ""
    npz = "" if name == "fashion_mnist" else " or Keras's mnist.npz"
    how_to = (f"Put the four IDX files (train-images-idx3-ubyte.gz, ...){npz} in one of those "
              f"folders{debian}, or set GANLIB_DATA_DIR to a folder that holds {name}/.")
    return find_or_fetch(name, split, _candidates(name, path),
                         lambda folder: _read(name, split, folder, classes),
                         lambda: _download(name), how_to)


@register("fashion_mnist")
def load_fashion_mnist(split: str, path=None) -> ArrayDataset:
    return _load("fashion_mnist", split, path, FASHION_CLASSES)


@register("mnist")
def load_mnist(split: str, path=None) -> ArrayDataset:
    return _load("mnist", split, path, DIGITS)
