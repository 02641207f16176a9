"""The pix2pix maps pairs (Isola et al., 2017): aerial photos of New York and their map tiles.

The official archive, `maps.tar.gz`, unpacks to `maps/train/*.jpg` (1096 pairs) and
`maps/val/*.jpg` (1098 pairs, our test split); each JPEG is 1200 x 600, the aerial photo on the
left and the map on the right. The loader reads that folder (or the archive itself) from the
usual places, resizes each half to `size` x `size` and keeps the side-by-side layout, aerial |
map, that ganlib's paired datasets share. The archive's publishers list no checksum, so a
download is checked by its content instead: it must unpack to both splits, each with over a
thousand readable 2:1 JPEGs.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .download import fetch
from .idx import DataFileError
from .locate import candidate_folders, download_folder, find_or_fetch
from .registry import ArrayDataset, register

URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/maps.tar.gz"
ARCHIVE = "maps.tar.gz"
FOLDERS = {"train": "train", "test": "val"}
MIN_DOWNLOADED = 1000  # pairs a downloaded archive must hold per split


def pair_from_jpeg(raw: bytes, size: int, where: str) -> np.ndarray:
    """One side-by-side JPEG -> uint8 size x 2 size x 3 (each half resized to size x size)."""
    try:
        with Image.open(io.BytesIO(raw)) as im:
            im = im.convert("RGB")
            w, h = im.size
            if w != 2 * h:
                raise DataFileError(f"{where} is {w} x {h}; a maps pair is twice as wide as "
                                    "tall (aerial | map).")
            halves = [im.crop((x, 0, x + h, h)).resize((size, size), Image.BICUBIC)
                      for x in (0, h)]
    except (UnidentifiedImageError, OSError) as e:
        raise DataFileError(f"{where} is not a readable JPEG ({e}); download the maps "
                            "archive again.") from None
    return np.concatenate([np.asarray(h, np.uint8) for h in halves], axis=1)


def _members(folder: Path, split: str) -> list[tuple[str, bytes]] | None:
    """(name, bytes) of a split's JPEGs from `folder`/maps, `folder` itself, or the archive."""
    sub = FOLDERS[split]
    for root in (folder / "maps" / sub, folder / sub):
        files = sorted(root.glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))
        if files:
            return [(str(p), p.read_bytes()) for p in files]
    archive = folder / ARCHIVE
    if not archive.is_file():
        return None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            found = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".jpg")
                     and Path(m.name).parent.name == sub]
            found.sort(key=lambda m: (len(Path(m.name).stem), Path(m.name).stem))
            return [(f"{archive}:{m.name}", tar.extractfile(m).read()) for m in found] or None
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataFileError(f"{archive} is damaged ({e}); delete it and download it "
                            "again.") from None


def _read(split: str, folder: Path, size: int) -> ArrayDataset | None:
    members = _members(folder, split)
    if members is None:
        return None
    x = np.stack([pair_from_jpeg(raw, size, name) for name, raw in members])
    return ArrayDataset("maps", split, x, None, source=f"{folder} ({len(x)} pairs)")


def _download() -> Path:
    folder = download_folder("maps")
    archive = fetch(URL, folder / ARCHIVE, sha256=None)
    for split in FOLDERS:
        members = _members(folder, split) or []
        if len(members) < MIN_DOWNLOADED:
            archive.unlink(missing_ok=True)
            raise DataFileError(f"the download from {URL} holds {len(members)} {split} pairs, "
                                f"not the official {MIN_DOWNLOADED}+; it was deleted.")
    return folder


@register("maps")
def load_maps(split: str, path=None, size: int = 256) -> ArrayDataset:
    """pix2pix's maps pairs, aerial | map, each half resized to `size`."""
    if size < 8 or size % 8:
        raise ValueError(f"size must be a multiple of 8 (e.g. 64, 128, 256), got {size}.")
    how_to = (f"Put pix2pix's {ARCHIVE} ({URL}) or its unpacked maps/train and maps/val "
              "folders in one of those folders, or set GANLIB_DATA_DIR to a folder that holds "
              "maps/. Offline, lesson 07 uses the rendered maps (rendered_maps).")
    return find_or_fetch("maps", split, candidate_folders("maps", path),
                         lambda folder: _read(split, folder, int(size)), _download, how_to)
