"""The dataset registry: `load(name, split)` returns real data or raises a clear error."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np


class UnknownDataset(KeyError):
    """The name is not one ganlib knows."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return self.args[0]


class DatasetUnavailable(RuntimeError):
    """A known dataset could not be found or fetched; the message says where we looked."""


@dataclasses.dataclass(frozen=True)
class ArrayDataset:
    """One split in memory. Images are uint8 N x H x W x C; points are float32 N x 2."""

    name: str
    split: str
    x: np.ndarray
    y: np.ndarray | None
    source: str
    num_classes: int = 0
    class_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.x)


_LOADERS: dict[str, Callable[..., ArrayDataset]] = {}


def register(name: str):
    """Decorator that makes a loader `fn(split, path=None, **kw)` available as `load(name)`."""

    def wrap(fn):
        _LOADERS[name] = fn
        return fn

    return wrap


def available() -> list[str]:
    return sorted(_LOADERS)


def load(name: str, split: str = "train", path=None, **kwargs) -> ArrayDataset:
    """Load a split of a registered dataset (`train` or `test`)."""
    key = name.strip().lower().replace("-", "_")
    if key not in _LOADERS:
        raise UnknownDataset(
            f"Unknown dataset {name!r}. Known datasets: {', '.join(available())}."
        )
    if split not in ("train", "test"):
        raise ValueError(f"Unknown split {split!r} for {key}; use 'train' or 'test'.")
    return _LOADERS[key](split, path=path, **kwargs)
