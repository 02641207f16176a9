"""City maps rendered by ganlib: lesson 07's offline aerial <-> map pairs.

A procedural generator, not a stand-in for the pix2pix maps photos. Each pair starts from one
random city layout at twice the final size: a street grid at a random angle and spacing, one
wider main road, blocks of buildings on lots, parks, and sometimes a river or a coast. The
layout is drawn twice: as an aerial photo (asphalt with lane markings, roofs of many colours
with shadows, tree canopy, rippled water, uneven light, a colour cast, sensor noise) and as a
map in flat map colours. Both are box-filtered to `size` and put side by side, aerial | map,
the layout of pix2pix's files. Pair i of a split depends only on (seed, split, i).
"""

from __future__ import annotations

import functools

import numpy as np

from .registry import ArrayDataset, register

SPLIT_SIZES = {"train": 2000, "test": 200}
DEFAULT_SIZE = 64

# layout classes
GROUND, BUILDING, ROAD, MAIN_ROAD, PARK, WATER, MARKING = range(7)
# flat map colours, in the order of the classes above (a main road's markings are road)
MAP_COLOURS = np.array([
    (236, 232, 225), (214, 206, 198), (255, 255, 255), (250, 210, 120), (196, 226, 166),
    (166, 206, 226), (250, 210, 120),
], np.float32)  # fmt: skip
ROOFS = np.array([
    (150, 150, 150), (120, 118, 115), (175, 170, 160), (160, 90, 70), (130, 75, 60),
    (90, 90, 95), (200, 195, 185), (110, 120, 130),
], np.float32)  # fmt: skip


def _smooth_noise(rng: np.random.Generator, side: int, cell: int) -> np.ndarray:
    """Value noise in [0, 1]: random values on a coarse grid, bilinearly upsampled."""
    n = side // cell + 2
    coarse = rng.random((n, n)).astype(np.float32)
    t = np.arange(side, dtype=np.float32) / cell
    i = t.astype(int)
    f = (t - i)[:, None]
    rows = coarse[i] * (1 - f) + coarse[i + 1] * f  # side x n
    g = (t - i)[None, :]
    return rows[:, i] * (1 - g) + rows[:, i + 1] * g


def layout(rng: np.random.Generator, side: int) -> tuple[np.ndarray, np.ndarray]:
    """A random city: (class per pixel, lot id per pixel) at side x side."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    angle = rng.uniform(-np.pi / 5, np.pi / 5)
    u = x * np.cos(angle) + y * np.sin(angle) + rng.uniform(0, side)
    v = -x * np.sin(angle) + y * np.cos(angle) + rng.uniform(0, side)
    su, sv = rng.uniform(0.22, 0.45, 2) * side  # block pitch along each axis
    width = max(2.0, rng.uniform(0.025, 0.045) * side)
    cu, cv = np.floor(u / su).astype(int), np.floor(v / sv).astype(int)
    fu, fv = u - cu * su, v - cv * sv  # position inside the block
    cells = cu * 1000 + cv
    labels = np.full((side, side), GROUND, np.int8)

    # lots: each block split in two along u at a random place, each half a building
    ids, inverse = np.unique(cells, return_inverse=True)
    inverse = inverse.reshape(side, side)
    split = rng.uniform(0.35, 0.65, len(ids))[inverse] * su
    park = (rng.random(len(ids)) < 0.18)[inverse]
    margin = width * rng.uniform(0.6, 1.4)
    gap = width * 0.5
    inside = (fu > width + margin) & (fu < su - margin) & (fv > width + margin) & (
        fv < sv - margin)
    between = np.abs(fu - split) < gap / 2
    labels[inside & ~between & ~park] = BUILDING
    lots = inverse * 2 + (fu > split)
    labels[park & (fu > width) & (fv > width)] = PARK

    labels[(fu < width) | (fv < width)] = ROAD
    # one main road, wider, along one of the grid's axes, somewhere near the middle
    axis = v if rng.random() < 0.5 else u
    centre = float(np.median(axis)) + rng.uniform(-0.25, 0.25) * side
    on_main = np.abs(axis - centre) < width * rng.uniform(0.9, 1.3)
    other = u if axis is v else v
    marking = (np.abs(axis - centre) < 0.6) & (other % (3 * width) < 1.5 * width)
    if rng.random() < 0.45:  # a river or a coast; the main road crosses it on a bridge
        wobble = (_smooth_noise(rng, side, max(4, side // 4)) - 0.5) * 0.3 * side
        if rng.random() < 0.5:
            across = y if rng.random() < 0.5 else x
            centre = rng.uniform(0.25, 0.75) * side
            water = np.abs(across - centre + wobble) < rng.uniform(0.08, 0.18) * side
        else:
            d = rng.normal(size=2)
            d /= np.linalg.norm(d)
            along = (x - side / 2) * d[0] + (y - side / 2) * d[1]
            water = along + wobble > rng.uniform(0.1, 0.35) * side
        labels[water] = WATER
    labels[on_main] = MAIN_ROAD
    labels[marking] = MARKING
    return labels, lots


def _as_uint8(img: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter a float image down by `factor` and round to uint8."""
    h, w, c = img.shape
    small = img.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def map_view(labels: np.ndarray) -> np.ndarray:
    """The layout in flat map colours (float, side x side x 3)."""
    return MAP_COLOURS[labels]


def aerial_view(labels: np.ndarray, lots: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The layout as a photo from above (float 0-255, side x side x 3)."""
    side = labels.shape[0]
    fine = rng.normal(0, 1, (side, side)).astype(np.float32)
    canopy = _smooth_noise(rng, side, 3) * 0.6 + _smooth_noise(rng, side, 8) * 0.4
    img = np.empty((side, side, 3), np.float32)
    ground = np.array([rng.uniform(125, 165), rng.uniform(125, 160), rng.uniform(110, 145)])
    img[:] = ground + 14 * fine[..., None]
    grass = canopy > 0.62
    img[(labels == GROUND) & grass] = (95, 120, 70)  # gardens and verges
    asphalt = rng.uniform(60, 95)
    roads = (labels == ROAD) | (labels == MAIN_ROAD) | (labels == MARKING)
    img[roads] = asphalt + 6 * fine[roads][:, None]
    # roofs: one colour per lot, a little texture, and a shadow cast to the lower right
    roof = ROOFS[rng.integers(0, len(ROOFS), lots.max() + 1)] * rng.uniform(0.85, 1.1)
    buildings = labels == BUILDING
    img[buildings] = roof[lots[buildings]] + 5 * fine[buildings][:, None]
    shift = max(1, side // 48)
    shadow = np.zeros_like(buildings)
    shadow[shift:, shift:] = buildings[:-shift, :-shift]
    shadow &= ~buildings & ~(labels == WATER)
    img[shadow] *= 0.55
    parks = labels == PARK
    trees = 40 + 70 * canopy[parks]
    img[parks] = np.stack([0.55 * trees, trees, 0.45 * trees], -1)
    water = labels == WATER
    ripple = _smooth_noise(rng, side, 2)[water]
    img[water] = np.stack([30 + 15 * ripple, 55 + 20 * ripple, 65 + 25 * ripple], -1)
    img[labels == MARKING] = (215, 205, 160)  # the main road's dashed centre line
    # light and sensor: a gradient, a colour cast, contrast, noise
    ramp = np.linspace(-1, 1, side, dtype=np.float32)
    d = rng.normal(size=2)
    shade = 1 + rng.uniform(0, 0.25) * (d[0] * ramp[None, :] + d[1] * ramp[:, None]) / np.hypot(*d)
    img *= shade[..., None] * np.exp(rng.normal(0, 0.06, 3)).astype(np.float32)
    img = (img - img.mean()) * rng.uniform(0.8, 1.15) + img.mean()
    return img + rng.normal(0, rng.uniform(2, 6), img.shape)


def render_pair(rng: np.random.Generator, size: int = DEFAULT_SIZE) -> np.ndarray:
    """One size x 2 size x 3 uint8 pair: aerial photo | map of the same layout."""
    labels, lots = layout(rng, 2 * size)
    aerial = _as_uint8(aerial_view(labels, lots, rng), 2)
    return np.concatenate([aerial, _as_uint8(map_view(labels), 2)], axis=1)


def render_pairs(n: int, size: int = DEFAULT_SIZE, seed: int = 0,
                 first_index: int = 0) -> np.ndarray:
    """Pairs N x size x 2 size x 3 (uint8); pair i comes from the RNG (seed, i)."""
    out = np.empty((n, size, 2 * size, 3), np.uint8)
    for i in range(n):
        out[i] = render_pair(np.random.default_rng([seed, first_index + i]), size)
    return out


@functools.lru_cache(maxsize=4)
def _split(split: str, n: int, size: int, seed: int) -> ArrayDataset:
    x = render_pairs(n, size, seed=2 * seed + (split == "test"))
    x.flags.writeable = False  # cached and shared: nobody may change it in place
    return ArrayDataset("rendered_maps", split, x, None, source=(
        f"rendered by ganlib.data.rendered_maps (seed {seed}, {n} pairs of {size}x{size}, "
        "aerial | map)"))


@register("rendered_maps")
def load_rendered_maps(split: str, path=None, n: int | None = None, size: int = DEFAULT_SIZE,
                       seed: int = 0) -> ArrayDataset:
    """Rendered aerial | map pairs: 2000 for train, 200 for test."""
    if path is not None:
        raise ValueError("rendered_maps is rendered by ganlib; it is not read from a path.")
    n = SPLIT_SIZES[split] if n is None else int(n)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}.")
    if size < 8 or size % 8:
        raise ValueError(f"size must be a multiple of 8 (e.g. 64, 128, 256), got {size}.")
    return _split(split, n, int(size), int(seed))
