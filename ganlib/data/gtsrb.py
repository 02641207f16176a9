"""GTSRB (German Traffic Sign Recognition Benchmark): lesson 03's four classes, online data.

Reads the official training set, either unpacked (`GTSRB/Final_Training/Images/000NN/` with
`*.ppm` images and a semicolon-separated `GT-000NN.csv` per class) or as the official zip
itself, from the folders `ganlib.data.locate` searches, else downloads the zip (checked against
its published MD5) unless offline. Each sign is cropped to its annotated ROI and resized to
32x32 RGB. The four classes map to labels 0-3 in the order of `traffic_signs.CLASS_NAMES`.

GTSRB's training set comes in tracks: 30 frames of one physical sign as the car approaches,
named `TTTTT_FFFFF.ppm` (track, frame). Every fifth track (track % 5 == 4) is the test split,
so no sign appears in both splits.
"""

from __future__ import annotations

import csv
import functools
import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .download import fetch
from .idx import DataFileError
from .locate import candidate_folders, download_folder, find_or_fetch
from .registry import ArrayDataset, register
from .traffic_signs import CLASS_NAMES, SIZE

# GTSRB class ids of speed limit 30, speed limit 100, stop, no vehicles over 3.5 t: labels 0-3
GTSRB_CLASS_IDS = (1, 7, 14, 16)
ZIP_NAME = "GTSRB_Final_Training_Images.zip"
URL = "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/" + ZIP_NAME
# The MD5 its publishers' mirrors and torchvision check; no SHA-256 of it is published.
ZIP_MD5 = "f33fd80ac59bff73c82d25ab499e03a3"
IMAGES = "GTSRB/Final_Training/Images"
COLUMNS = ("Filename", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId")


class _Tree:
    """Files under the `Images` folder of the training set, unpacked or inside the zip."""

    def __init__(self, root: Path, archive: Path | None = None):
        self.root, self.archive = root, archive
        self._zip = None

    def __str__(self) -> str:
        return f"{self.archive}:{IMAGES}" if self.archive else str(self.root)

    def __eq__(self, other) -> bool:
        return isinstance(other, _Tree) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __enter__(self) -> _Tree:
        if self.archive:
            try:
                self._zip = zipfile.ZipFile(self.archive)
            except (zipfile.BadZipFile, OSError) as e:
                raise DataFileError(f"{self.archive} is not a readable zip ({e}); delete it "
                                    "and download it again.") from e
        return self

    def __exit__(self, *exc):
        if self._zip is not None:
            self._zip.close()

    def signature(self) -> tuple:
        """Changes when any file changes: the key under which a read is cached."""
        files = [self.archive] if self.archive else [
            p for c in GTSRB_CLASS_IDS for p in (self.root / f"{c:05d}").glob("*")]
        stats = [p.stat() for p in files]
        return (str(self), len(stats), sum(s.st_size for s in stats),
                max((s.st_mtime_ns for s in stats), default=0))

    def read(self, relative: str) -> bytes:
        try:
            if self._zip is not None:
                return self._zip.read(f"{IMAGES}/{relative}")
            return (self.root / relative).read_bytes()
        except (KeyError, OSError) as e:
            raise DataFileError(f"{self}/{relative} is missing or unreadable ({e}). The GTSRB "
                                "copy is incomplete: unpack or download it again.") from e


def _tree(folder: Path) -> _Tree | None:
    """The training set in `folder` (unpacked, or the official zip), or None."""
    for layout in (IMAGES, "Final_Training/Images"):
        if (folder / layout).is_dir():
            return _Tree(folder / layout)
    if (folder / ZIP_NAME).is_file():
        return _Tree(folder, folder / ZIP_NAME)
    return None


def _rows(tree: _Tree, class_id: int) -> list[dict]:
    name = f"{class_id:05d}/GT-{class_id:05d}.csv"
    text = tree.read(name).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    missing = [c for c in COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise DataFileError(f"{tree}/{name} is not a GTSRB annotation file (no rows, or missing "
                            f"columns {missing}); it needs {';'.join(COLUMNS)}.")
    return rows


def _sign(tree: _Tree, class_id: int, row: dict) -> np.ndarray:
    """The ROI of one annotated image, resized to SIZE x SIZE RGB."""
    name = f"{class_id:05d}/{row['Filename']}"
    try:
        if int(row["ClassId"]) != class_id:
            raise DataFileError(f"{tree}/{name} is annotated as class {row['ClassId']} in the "
                                f"folder of class {class_id}.")
        box = tuple(int(row[c]) for c in ("Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"))
        with Image.open(io.BytesIO(tree.read(name))) as im:
            crop = im.convert("RGB").crop((box[0], box[1], box[2] + 1, box[3] + 1))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        if isinstance(e, DataFileError):
            raise
        raise DataFileError(f"{tree}/{name} is not a readable GTSRB image or annotation "
                            f"({e}). Unpack or download GTSRB again.") from e
    return np.asarray(crop.resize((SIZE, SIZE), Image.LANCZOS), np.uint8)


def _track(filename: str, where: str) -> int:
    track = filename.split("_")[0]
    if not track.isdigit():
        raise DataFileError(f"{where}: {filename!r} is not named TTTTT_FFFFF.ppm (track_frame) "
                            "as GTSRB training images are.")
    return int(track)


@functools.lru_cache(maxsize=2)
def _read_all(tree: _Tree, signature: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels, tracks) of the four classes (cached while the files stay the same)."""
    images, labels, tracks = [], [], []
    with tree:
        for label, class_id in enumerate(GTSRB_CLASS_IDS):
            for row in _rows(tree, class_id):
                images.append(_sign(tree, class_id, row))
                labels.append(label)
                tracks.append(_track(row["Filename"], f"{tree}/{class_id:05d}"))
    return np.stack(images), np.array(labels, np.int64), np.array(tracks)


def _read(split: str, folder: Path) -> ArrayDataset | None:
    tree = _tree(folder)
    if tree is None:
        return None
    x, y, tracks = _read_all(tree, tree.signature())
    keep = (tracks % 5 == 4) if split == "test" else (tracks % 5 != 4)
    if not keep.any():
        raise DataFileError(f"{tree} holds no {split} images (tracks with track % 5 "
                            f"{'==' if split == 'test' else '!='} 4).")
    return ArrayDataset("gtsrb", split, x[keep], y[keep], str(tree), len(CLASS_NAMES),
                        CLASS_NAMES)


def _download() -> Path:
    folder = download_folder("gtsrb")
    fetch(URL, folder / ZIP_NAME, ZIP_MD5, algorithm="md5")
    return folder


@register("gtsrb")
def load_gtsrb(split: str, path=None) -> ArrayDataset:
    """GTSRB's speed limit 30, speed limit 100, stop and no-trucks signs, 32x32 RGB."""
    how_to = (f"Put GTSRB's official training set in one of those folders, unpacked "
              f"({IMAGES}/000NN/ with GT-000NN.csv) or as {ZIP_NAME} from {URL}, or set "
              "GANLIB_DATA_DIR to a folder that holds gtsrb/. Offline, lesson 03 uses the "
              "rendered signs (traffic_signs).")
    return find_or_fetch("gtsrb", split, candidate_folders("gtsrb", path),
                         lambda folder: _read(split, folder), _download, how_to)
