"""Two image domains without pairs, for CycleGAN (lesson 08): `load_domains(name, split)`.

Offline pairs come from ganlib's datasets: "shapes" (rendered circles -> squares) and
"sneakers_boots" (Fashion-MNIST sneakers, class 7 -> ankle boots, class 9). Online, the
CycleGAN paper's sets come from TensorFlow Datasets (`cycle_gan/horse2zebra`, ...): looked for
in an explicit path, `$GANLIB_DATA_DIR/tensorflow_datasets`, the repo's
`data/tensorflow_datasets` and TFDS's own folder, then downloaded and prepared by TFDS unless
offline. Either way the two domains are real images of their domain, never stand-ins.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from .. import config
from .registry import DatasetUnavailable, UnknownDataset, load

# The CycleGAN paper's unpaired sets, as TFDS names them: cycle_gan/<name>, A -> B.
TFDS_PAIRS = {
    "horse2zebra": ("horse", "zebra"), "apple2orange": ("apple", "orange"),
    "summer2winter_yosemite": ("summer", "winter"), "monet2photo": ("Monet", "photo"),
    "cezanne2photo": ("Cezanne", "photo"), "ukiyoe2photo": ("ukiyo-e", "photo"),
    "vangogh2photo": ("Van Gogh", "photo"), "iphone2dslr_flower": ("iPhone", "DSLR"),
    "maps": ("map", "aerial photo"), "cityscapes": ("label map", "street photo"),
    "facades": ("label map", "facade photo"),
}  # fmt: skip
TFDS_SIZE = 256  # the side of the TFDS sets' images
# Pairs made of two classes of a labelled ganlib dataset: (dataset, class of A, class of B).
CLASS_PAIRS = {"shapes": ("shapes", 0, 1), "sneakers_boots": ("fashion_mnist", 7, 9)}


@dataclasses.dataclass(frozen=True)
class DomainPair:
    """One split of two unpaired domains: uint8 N x H x W x C images of A and of B.

    judge, classes: the ganlib dataset whose judge classifier tells the domains apart, and
    the judge's classes for A and B (judge None: no judge, e.g. the TFDS sets).
    """

    name: str
    split: str
    a: np.ndarray
    b: np.ndarray
    names: tuple[str, str]
    source: str
    judge: str | None = None
    classes: tuple[int, int] = (0, 1)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.a.shape[1:])


def available() -> list[str]:
    return [*CLASS_PAIRS, *TFDS_PAIRS]


def load_domains(name: str, split: str = "train", image_size: int | None = None,
                 n: int | None = None, path=None) -> DomainPair:
    """Images of both domains of `name` for `split` ("train" or "test").

    image_size: resize to image_size x image_size (default: the data's own size, 32 for
    shapes, 28 for Fashion-MNIST, 256 for the TFDS sets). n: at most this many per domain
    (the first n; a split's order is fixed). path: a TFDS data folder to look in first.
    """
    key = name.strip().lower().replace("-", "_")
    if split not in ("train", "test"):
        raise ValueError(f"Unknown split {split!r} for {key}; use 'train' or 'test'.")
    if n is not None and n < 1:
        raise ValueError(f"n must be positive, got {n}.")
    if key in CLASS_PAIRS:
        dataset, class_a, class_b = CLASS_PAIRS[key]
        if path is not None:
            raise ValueError(f"{key} comes from ganlib's {dataset} loader; it takes no path.")
        loaded = load(dataset, split)
        a, b = loaded.x[loaded.y == class_a], loaded.x[loaded.y == class_b]
        names = (loaded.class_names[class_a], loaded.class_names[class_b])
        pair = DomainPair(key, split, a[:n], b[:n], names, loaded.source, dataset,
                          (class_a, class_b))
    elif key in TFDS_PAIRS:
        a, b, source = _tfds_domains(key, split, n, image_size or TFDS_SIZE, path)
        pair = DomainPair(key, split, a, b, TFDS_PAIRS[key], source)
    else:
        raise UnknownDataset(f"Unknown pair of domains {name!r}. Known: "
                             f"{', '.join(available())}.")
    if image_size is not None and image_size != pair.image_shape[0]:
        pair = dataclasses.replace(pair, a=resize(pair.a, image_size),
                                   b=resize(pair.b, image_size))
    return pair


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 N x H x W x C images resized to size x size (area averaging when shrinking)."""
    import tensorflow as tf

    if size < 8:
        raise ValueError(f"image_size {size} is too small; use 32 or more.")
    out = tf.image.resize(tf.constant(images), (size, size), method="area", antialias=True)
    return np.clip(np.rint(out.numpy()), 0, 255).astype(np.uint8)


# --- the CycleGAN paper's sets, through TensorFlow Datasets --------------------------------
def tfds_folders(path=None) -> list[Path]:
    """TFDS data folders searched, in order."""
    s = config.settings()
    folders = [Path(path)] if path else []
    if s.data_dir:
        folders.append(s.data_dir / "tensorflow_datasets")
    folders.append(config.REPO_ROOT / "data" / "tensorflow_datasets")
    folders.append(Path(os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets"))
    return list(dict.fromkeys(folders))


def _read_tfds(builder, split: str, n: int | None, size: int) -> np.ndarray:
    """uint8 size x size images of one TFDS split (e.g. "trainA"), the first n."""
    import tensorflow_datasets as tfds

    ds = builder.as_dataset(split=split if n is None else f"{split}[:{n}]", shuffle_files=False)
    images = []
    for example in tfds.as_numpy(ds):
        image = np.asarray(example["image"], np.uint8)
        images.append(image if image.shape[:2] == (size, size) else resize(image[None], size)[0])
        if n is not None and len(images) == n:
            break
    if not images:
        raise DatasetUnavailable(f"{builder.name} split {split} holds no images.")
    return np.stack(images)


def _read_pair(builder, split: str, n: int | None, size: int, folder) -> tuple:
    return (_read_tfds(builder, f"{split}A", n, size), _read_tfds(builder, f"{split}B", n, size),
            f"TFDS {builder.name}/{builder.builder_config.name} in {folder}")


def _tfds_domains(name: str, split: str, n: int | None, size: int, path) -> tuple:
    """(images of A, images of B, where they came from) of a CycleGAN set, size x size."""
    import tensorflow_datasets as tfds

    full = f"cycle_gan/{name}"
    tried = []
    for folder in tfds_folders(path):
        builder = tfds.builder(full, data_dir=str(folder))
        if builder.is_prepared():
            return _read_pair(builder, split, n, size, folder)
        tried.append(str(folder))
    how_to = (f"Prepare it once online (`python -c \"import tensorflow_datasets as tfds; "
              f"tfds.load('{full}')\"`), or copy a prepared tensorflow_datasets/cycle_gan "
              "folder to one of those places. Offline, lesson 08 trains on shapes or "
              "sneakers_boots.")
    if config.settings().offline:
        hint = "GANLIB_OFFLINE is set, so nothing was downloaded."
    else:
        folder = (config.settings().data_dir or config.REPO_ROOT / "data") / "tensorflow_datasets"
        try:
            builder = tfds.builder(full, data_dir=str(folder))
            builder.download_and_prepare()
            return _read_pair(builder, split, n, size, folder)
        except Exception as e:  # noqa: BLE001  (TFDS reports a failed download in many ways)
            hint = f"Downloading it with TFDS failed: {str(e).strip().splitlines()[0][:300]}."
    raise DatasetUnavailable(f"{full} ({split}) was not found. Looked in: {', '.join(tried)}. "
                             f"{hint} {how_to}")
