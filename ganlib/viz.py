"""Pictures for the lessons: image grids, loss curves, training GIFs, point clouds."""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from .data.pipeline import to_uint8


def image_grid(images, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile N x H x W x C images (uint8, or float in [-1, 1]) into one uint8 H' x W' x C array."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = to_uint8(images)
    if images.ndim == 3:
        images = images[..., None]
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i, im in enumerate(images):
        top, left = (pad + (h + pad) * (i // cols), pad + (w + pad) * (i % cols))
        grid[top:top + h, left:left + w] = im
    return grid


def _pil(grid: np.ndarray, scale: int = 1) -> Image.Image:
    im = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    return im.resize((im.width * scale, im.height * scale), Image.NEAREST) if scale > 1 else im


def save_grid(images, path, cols: int | None = None, scale: int = 2) -> Path:
    """Write a grid of images as a PNG (written whole, then renamed into place)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    _pil(image_grid(images, cols), scale).save(tmp, format="PNG")
    tmp.replace(path)
    return path


def show_grid(images, cols: int | None = None, title: str = "", size: float = 5.0):
    """Show a grid inline with matplotlib."""
    grid = image_grid(images, cols)
    fig, ax = plt.subplots(figsize=(size, size * grid.shape[0] / grid.shape[1]))
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255)
    ax.set_title(title)
    ax.axis("off")
    return fig


def training_gif(frames, scale: int = 2, duration_ms: int = 200) -> bytes:
    """An animated GIF (bytes, built in memory) from Snapshots frames: [(step, images)]."""
    pictures = [_pil(image_grid(images), scale) for _, images in frames]
    if not pictures:
        raise ValueError("no frames to animate; did the run take any snapshots?")
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=duration_ms, loop=0)
    return buf.getvalue()


def plot_history(history, keys=None, title: str = "losses", smooth: int = 1):
    """Loss curves from a trainer history (list of dicts with `step`)."""
    history = [r for r in history if "event" not in r]  # losses only, not eval/rollback
    keys = keys or [k for k in history[0] if k.endswith("_loss")]
    steps = np.array([r["step"] for r in history])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for k in keys:
        values = np.array([r[k] for r in history], float)
        if smooth > 1 and len(values) >= smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
            ax.plot(steps[smooth - 1:], values, label=k)
        else:
            ax.plot(steps, values, label=k)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_points(fake, real=None, curve=True, ax=None, title: str = ""):
    """Generated 2-D points against real ones and the curve y = sin x."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=3, alpha=0.4, label="real", color="tab:blue")
    ax.scatter(fake[:, 0], fake[:, 1], s=3, alpha=0.6, label="generated", color="tab:red")
    if curve:
        x = np.linspace(-np.pi, np.pi, 200)
        ax.plot(x, np.sin(x), color="black", lw=1, label="sin x")
    ax.set_xlim(-4, 4)
    ax.set_ylim(-1.6, 1.6)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return ax
