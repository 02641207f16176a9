"""What the lessons' measures and quality benchmarks share: train a run for a budget, sample a
generator, score the samples, and where benchmark runs go.

It sits below the lessons (they call it) and above `base`, so a lesson's own quality bench
closes no circle of imports.
"""

from __future__ import annotations

import time

import numpy as np

from .. import config, metrics
from .base import fit


def scratch_dir(name: str):
    """Where a benchmark's run `name` goes: <output dir>/bench/name."""
    return config.settings().output_dir / "bench" / name


def budget(minutes: float | None, steps: int | None) -> dict:
    """The Config changes for a quality bench's training budget: `steps` if given (the same
    training on every machine), else `minutes` if given, else none (the lesson's own)."""
    if steps is not None:
        return {"minutes": None, "steps": steps}
    return {} if minutes is None else {"minutes": minutes, "steps": None}


def stderr_points(values: list[float]) -> float | None:
    """The standard error of the mean of `values` (fractions), in points; None for one value:
    how far the mean over these runs may sit from the mean over many more."""
    if len(values) < 2:
        return None
    return round(100 * float(np.std(values, ddof=1)) / np.sqrt(len(values)), 2)


def train_quietly(run) -> float:
    """Train a built run for its configured budget without a progress bar; the seconds it
    took (compiling, checkpoints and in-training scores included)."""
    run.trainer.progress = False
    started = time.perf_counter()
    fit(run)
    return time.perf_counter() - started


def sample_unconditional(g, n: int, seed: int) -> np.ndarray:
    """n images from an unconditional generator `g`, from seeded noise."""
    z = np.random.default_rng(seed).standard_normal((n, g.inputs[0].shape[-1])).astype("f4")
    return g.predict(z, batch_size=500, verbose=0)


def unconditional_fid(run, smoke: bool, crop=None) -> tuple[float, dict]:
    """The judge FID of 10,000 samples (1,000 for `smoke`) of a run's generator, cropped to
    the dataset's size by `crop` if given, and the largest share of one class among them."""
    cfg = run.config
    images = sample_unconditional(run.generator(), 1000 if smoke else 10_000, cfg.seed + 1)
    found = metrics.image_metrics(images if crop is None else crop(images), cfg.dataset)
    return found["fid"], {"max_class_share": found["max_class_share"]}


def intended_class_share(run, smoke: bool) -> tuple[float, dict]:
    """The share of a conditional run's samples (1,000 per class, 50 for `smoke`) that the
    judge assigns to the class asked for."""
    from ..models.conditional import generate, num_classes_of

    cfg, g = run.config, run.generator()
    k = num_classes_of(g)
    labels = np.arange((50 if smoke else 1000) * k) % k
    found = metrics.conditional_metrics(generate(g, labels, seed=cfg.seed + 1), labels,
                                        cfg.dataset)
    return found["intended_share"], {}
