"""Fashion-MNIST edges to images: lesson 07's second offline task (edges2shoes in miniature).

Each real Fashion-MNIST image is paired with its edge map, found by an edge detector (the
Sobel gradient of the lightly blurred image, thinned to one pixel by non-maximum suppression
as in Canny's detector, thresholded relative to the image's strongest edge), drawn as dark
lines on white like pix2pix's edges2shoes sketches. Pairs are side by side, edges | image,
28 x 56 x 1, in the dataset's order, with its class labels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .registry import ArrayDataset, load, register

SOBEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
EDGE_THRESHOLD = 0.2  # share of the image's largest gradient that counts as an edge


def edge_map(images: np.ndarray, threshold: float = EDGE_THRESHOLD) -> np.ndarray:
    """Edges of uint8 N x H x W (x 1) images: uint8, 0 on an edge, 255 elsewhere."""
    images = np.asarray(images)
    squeeze = images.ndim == 4
    x = images[..., 0] if squeeze else images
    if x.ndim != 3:
        raise ValueError(f"edge_map takes N x H x W (x 1) grey images, got {images.shape}.")
    x = ndimage.gaussian_filter(x.astype(np.float32), sigma=(0, 0.6, 0.6))
    # 2-D Sobel kernels (ndimage.sobel would also smooth across the batch axis)
    gx = ndimage.correlate(x, SOBEL[None], mode="nearest")
    gy = ndimage.correlate(x, SOBEL.T[None], mode="nearest")
    magnitude = np.hypot(gx, gy)
    # non-maximum suppression: keep a pixel only if it beats both neighbours across the edge
    sector = np.rint(np.arctan2(gy, gx) / (np.pi / 4)).astype(int) % 4
    keep = np.zeros(magnitude.shape, bool)
    for k, (dy, dx) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        ahead = np.roll(magnitude, (-dy, -dx), axis=(1, 2))
        behind = np.roll(magnitude, (dy, dx), axis=(1, 2))
        keep |= (sector == k) & (magnitude >= ahead) & (magnitude >= behind)
    peak = magnitude.max(axis=(1, 2), keepdims=True)
    edges = keep & (magnitude > threshold * np.maximum(peak, 1e-6))
    out = np.where(edges, 0, 255).astype(np.uint8)
    return out[..., None] if squeeze else out


@register("fashion_edges")
def load_fashion_edges(split: str, path=None) -> ArrayDataset:
    """Fashion-MNIST (found as `fashion_mnist` is) as edges | image pairs, with its labels."""
    images = load("fashion_mnist", split, path=path)
    pairs = np.concatenate([edge_map(images.x), images.x], axis=2)
    return ArrayDataset("fashion_edges", split, pairs, images.y,
                        source=f"edges of {images.source}", num_classes=images.num_classes,
                        class_names=images.class_names)
