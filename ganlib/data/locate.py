"""Offline-first search shared by the dataset loaders.

Order: an explicit path, `$GANLIB_DATA_DIR/<name>`, the repo's `data/<name>`, the system's copy
(`/usr/share/datasets/<name>`), the Keras cache, then a verified download unless offline. When
nothing works, one `DatasetUnavailable` lists every place tried and how to supply the data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import config
from .registry import ArrayDataset, DatasetUnavailable


def candidate_folders(name: str, path=None) -> list[Path]:
    """The folders searched for dataset `name`, in order (`path` first when given)."""
    s = config.settings()
    dashed = name.replace("_", "-")
    folders = [Path(path)] if path else []
    if s.data_dir:
        folders += [s.data_dir / name, s.data_dir / dashed]
    folders += [config.REPO_ROOT / "data" / name, Path("/usr/share/datasets") / dashed]
    folders += [Path.home() / ".keras" / "datasets" / dashed, Path.home() / ".keras" / "datasets"]
    return list(dict.fromkeys(folders))


def download_folder(name: str) -> Path:
    """Where a download of `name` goes: `$GANLIB_DATA_DIR/<name>`, else the repo's data/."""
    return (config.settings().data_dir or config.REPO_ROOT / "data") / name


def find_or_fetch(name: str, split: str, folders: list[Path],
                  read: Callable[[Path], ArrayDataset | None], download: Callable[[], Path],
                  how_to: str) -> ArrayDataset:
    """The first of `folders` that `read` finds the data in; else `read(download())` unless
    offline; else a `DatasetUnavailable` naming the folders, why nothing was downloaded and
    `how_to` supply the data."""
    tried = []
    for folder in folders:
        found = read(folder) if folder.is_dir() else None
        if found is not None:
            return found
        tried.append(str(folder))
    if config.settings().offline:
        hint = "GANLIB_OFFLINE is set, so nothing was downloaded."
    else:
        try:
            found = read(download())
            if found is not None:
                return found
            hint = "The download left no readable files."
        except OSError as e:
            hint = f"Downloading failed: {e}."
    raise DatasetUnavailable(
        f"{name} ({split}) was not found. Looked in: {', '.join(tried)}. {hint} {how_to}"
    )
