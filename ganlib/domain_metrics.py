"""How good is a translation between two domains (lesson 08)? Numbers next to references.

- target share: the share of translated images that the judge classifier of the data assigns
  to the target domain (its arg-max is the target class); the same share for real images of
  the target domain is the ceiling, an untrained generator the floor;
- cycle L1: mean |x - F(G(x))| on the [-1, 1] pixel scale, how well a round trip comes back;
- for circles and squares, whether the translation kept the shape's position (its centre
  within `position_tol` pixels) and colour (each channel of its median colour within
  `colour_tol` on the [0, 1] scale), measured on the images themselves.
"""

from __future__ import annotations

import numpy as np

from . import metrics

POSITION_TOL = 2.0  # pixels
COLOUR_TOL = 0.1  # per channel, on the [0, 1] scale
FOREGROUND = 0.35  # brightness (the largest channel, [0, 1]) above which a pixel is the shape


def _unit(images) -> np.ndarray:
    """uint8 or [-1, 1] images as float in [0, 1]."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return (np.clip(images.astype(np.float32), -1, 1) + 1.0) / 2.0


def target_share(images, judge_dataset: str, target_class: int) -> float:
    """Share of `images` (uint8 or [-1, 1]) that the judge of `judge_dataset` assigns to
    `target_class`."""
    _, probs = metrics.judge_outputs(images, judge_dataset)
    return float(np.mean(probs.argmax(1) == target_class))


def cycle_l1(images, reconstructed) -> float:
    """Mean absolute difference between images and their round trip, on the [-1, 1] scale."""
    a, b = 2 * _unit(images) - 1, 2 * _unit(reconstructed) - 1
    if a.shape != b.shape:
        raise ValueError(f"images {a.shape} and their reconstructions {b.shape} differ in shape.")
    return float(np.mean(np.abs(a - b)))


def shape_features(images) -> dict:
    """Per image of a shape on black: `found` (at least 4 foreground pixels), `centres`
    (N x 2, y and x in pixels, the foreground's brightness-weighted mean) and `colours`
    (N x 3, [0, 1], the foreground's median, which edge pixels blended with the background
    barely move)."""
    x = _unit(images)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"shape features need N x H x W x 3 images, got {x.shape}.")
    brightness = x.max(-1)
    mask = brightness > FOREGROUND
    n, h, w = mask.shape
    count = mask.sum((1, 2))
    yy, xx = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    weight = brightness * mask  # edge pixels count by how much of them the shape covers
    total = np.maximum(weight.sum((1, 2)), 1e-6)
    centres = np.stack([(weight * yy).sum((1, 2)), (weight * xx).sum((1, 2))], 1) / total[:, None]
    colours = np.zeros((n, 3))
    for i in range(n):
        if count[i]:
            colours[i] = np.median(x[i][mask[i]], axis=0)
    return {"found": count >= 4, "centres": centres, "colours": colours}


def shapes_kept(sources, translated, position_tol: float = POSITION_TOL,
                colour_tol: float = COLOUR_TOL) -> dict:
    """Whether each translated shape sits where its source was and has its colour.

    Returns the shares `position_kept` and `colour_kept`, the per-image booleans of both
    (`position_kept_each`, `colour_kept_each`), and the mean centre distance (pixels) and
    colour difference (largest channel, [0, 1]) over images where both shapes were found.
    """
    src, out = shape_features(sources), shape_features(translated)
    if len(src["found"]) != len(out["found"]):
        raise ValueError(f"{len(src['found'])} sources but {len(out['found'])} translations.")
    both = src["found"] & out["found"]
    distance = np.linalg.norm(src["centres"] - out["centres"], axis=1)
    colour = np.abs(src["colours"] - out["colours"]).max(1)
    position_ok = both & (distance <= position_tol)
    colour_ok = both & (colour <= colour_tol)
    return {
        "position_kept": round(float(position_ok.mean()), 4),
        "colour_kept": round(float(colour_ok.mean()), 4),
        "position_error_px": round(float(distance[both].mean()), 3) if both.any() else None,
        "colour_error": round(float(colour[both].mean()), 4) if both.any() else None,
        "position_kept_each": position_ok, "colour_kept_each": colour_ok,
    }  # fmt: skip


def translation_metrics(sources, translated, reconstructed, judge_dataset: str | None,
                        target_class: int, shapes: bool = False) -> dict:
    """One direction's numbers: `target_share` (None without a judge), `cycle_l1`, and for
    shapes `position_kept`, `colour_kept`, their errors, and `target_and_position_kept` (judged
    the target shape *and* in its place)."""
    result = {"n": int(len(sources)), "cycle_l1": round(cycle_l1(sources, reconstructed), 4)}
    hits = None
    if judge_dataset is not None:
        _, probs = metrics.judge_outputs(translated, judge_dataset)
        hits = probs.argmax(1) == target_class
        result["target_share"] = round(float(hits.mean()), 4)
    if shapes:
        kept = shapes_kept(sources, translated)
        position = kept.pop("position_kept_each")
        kept.pop("colour_kept_each")
        result.update(kept)
        if hits is not None:
            result["target_and_position_kept"] = round(float((hits & position).mean()), 4)
    return result
