"""Circles and squares rendered by ganlib: lesson 08's offline two-domain data.

A procedural generator, not a stand-in: one filled shape per 32x32 RGB image on a black
background, with a random colour (saturated and bright, so it always stands out), size and
position. A square is the box its circle of the same centre and radius would sit in, so
"circle -> square" keeps position, size and colour and changes only the outline. Shapes are
anti-aliased (drawn at 4x and averaged down). Image i of a split depends only on (seed, i);
`shape_params` gives the centre, radius and colour each image was drawn with, and
`render_shapes` draws any shape from given parameters (e.g. the ideal translation of a circle).
"""

from __future__ import annotations

import colorsys
import functools

import numpy as np

from .registry import ArrayDataset, register

CLASS_NAMES = ("circle", "square")
SIZE = 32
SUPERSAMPLE = 4
RADIUS = (4.0, 10.0)  # radius of a circle, half the side of a square, in pixels
SPLIT_SIZES = {"train": 5000, "test": 1000}  # images per class


def shape_params(n: int, seed: int = 0, first_index: int = 0) -> dict:
    """Centres (N x 2, y and x in pixels), radii (N) and colours (N x 3 in [0, 1]) of images
    first_index, ..., first_index + n - 1 of the stream `seed`."""
    centres, radii, colours = np.empty((n, 2)), np.empty(n), np.empty((n, 3))
    for i in range(n):
        rng = np.random.default_rng([seed, first_index + i])
        r = rng.uniform(*RADIUS)
        radii[i] = r
        centres[i] = rng.uniform(r + 1, SIZE - r - 1, 2)
        hue, sat, val = rng.uniform(0, 1), rng.uniform(0.5, 1.0), rng.uniform(0.7, 1.0)
        colours[i] = colorsys.hsv_to_rgb(hue, sat, val)
    return {"centres": centres, "radii": radii, "colours": colours}


@functools.lru_cache(maxsize=1)
def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel sample positions (pixel units, pixel centres at i + 0.5)."""
    ticks = (np.arange(SIZE * SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    return np.meshgrid(ticks, ticks, indexing="ij")


def render_shapes(kinds, centres, radii, colours) -> np.ndarray:
    """N x 32 x 32 x 3 uint8 images: shape kinds[i] (0 circle, 1 square) of centres[i]
    (y, x), radii[i] and colours[i] (RGB in [0, 1]) on black."""
    kinds = np.asarray(kinds)
    if kinds.size and (kinds.min() < 0 or kinds.max() > 1):
        raise ValueError(f"shape kinds are 0 ({CLASS_NAMES[0]}) or 1 ({CLASS_NAMES[1]}).")
    yy, xx = _grid()
    out = np.empty((len(kinds), SIZE, SIZE, 3), np.uint8)
    for i, kind in enumerate(kinds):
        dy, dx = yy - centres[i][0], xx - centres[i][1]
        if kind == 0:
            inside = dy * dy + dx * dx <= radii[i] ** 2
        else:
            inside = np.maximum(np.abs(dy), np.abs(dx)) <= radii[i]
        cover = inside.reshape(SIZE, SUPERSAMPLE, SIZE, SUPERSAMPLE).mean(axis=(1, 3))
        out[i] = np.rint(cover[..., None] * np.asarray(colours[i]) * 255).astype(np.uint8)
    return out


@functools.lru_cache(maxsize=8)
def _split(split: str, n_per_class: int, seed: int) -> ArrayDataset:
    labels = np.arange(2 * n_per_class, dtype=np.int64) % 2
    stream = 2 * seed + (split == "test")  # train and test are different streams
    params = shape_params(len(labels), stream)
    x = render_shapes(labels, **params)
    x.flags.writeable = False  # cached and shared: nobody may change it in place
    labels.flags.writeable = False
    return ArrayDataset("shapes", split, x, labels, source=(
        f"rendered by ganlib.data.shapes (seed {seed}, {n_per_class} per class)"),
        num_classes=2, class_names=CLASS_NAMES)


@register("shapes")
def load_shapes(split: str, path=None, n_per_class: int | None = None,
                seed: int = 0) -> ArrayDataset:
    """Rendered circles (label 0) and squares (label 1), interleaved: 5000 of each for train,
    1000 for test."""
    if path is not None:
        raise ValueError("shapes is rendered by ganlib; it is not read from a path.")
    n = SPLIT_SIZES[split] if n_per_class is None else int(n_per_class)
    if n < 1:
        raise ValueError(f"n_per_class must be positive, got {n}.")
    return _split(split, n, int(seed))


def split_params(split: str, n_per_class: int | None = None, seed: int = 0) -> dict:
    """The parameters `load_shapes(split, ...)` drew its images with (same order)."""
    n = SPLIT_SIZES[split] if n_per_class is None else int(n_per_class)
    return shape_params(2 * n, 2 * int(seed) + (split == "test"))
