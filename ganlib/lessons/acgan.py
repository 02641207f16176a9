"""Lesson 05: AC-GAN on Fashion-MNIST, a discriminator that also names the class."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .. import data
from ..models.auxiliary import build_acgan_discriminator
from ..models.conditional import build_conditional_generator, check_labels, generate
from ..steps import ACGANStep
from . import dcgan
from .base import (
    Run,
    assemble,
    class_fid_score,
    load_labelled,
    run_dir_for,
    seed_everything,
)

NAME = "acgan"


@dataclasses.dataclass
class Config(dcgan.Config):
    """Every knob of lesson 05: lesson 02's, plus G's label embedding and the class loss.

    On a GPU, try batch_size=128, width=64 and minutes=5.
    """

    embed_dim: int = 16  # size of G's label embedding, concatenated with the noise
    class_weight: float = 1.0  # weight of the auxiliary classifier's loss in D's and G's loss
    fake_class_weight: float = 1.0  # D's class head also learns from G's images (the paper)
    # a shorter memory than lesson 02's 0.999: a 2-core CPU trains only a few thousand steps
    ema_decay: float | None = 0.995


def load_split(cfg: Config, split: str) -> data.ArrayDataset:
    """A split of the lesson's dataset, which must have class labels."""
    return load_labelled(cfg.dataset, split, "an AC-GAN")


@functools.lru_cache(maxsize=4)
def class_names(dataset: str = "fashion_mnist") -> tuple[str, ...]:
    """The class names of a labelled dataset, in label order."""
    return data.load(dataset, "test").class_names


def labels_for(classes, names, n: int | None = None) -> np.ndarray:
    """Labels from class indices or names (any case, e.g. ["sneaker", 4]); with `n`, the
    classes in turn."""
    if isinstance(classes, (str, int, np.integer)):
        classes = [classes]
    lower = [name.lower() for name in names]
    labels = []
    for c in classes:
        if isinstance(c, str):
            if c.strip().lower() not in lower:
                raise ValueError(f"Unknown class {c!r}; classes: {', '.join(names)}.")
            labels.append(lower.index(c.strip().lower()))
        else:
            labels.append(c)
    labels = check_labels(np.array(labels, np.int64), len(names), names)
    return labels if n is None else np.resize(labels, n)


def sample(run: Run, classes, seed: int = 0, ema: bool = True) -> np.ndarray:
    """Images in [-1, 1], one per entry of `classes` (indices or names), from seeded noise."""
    return generate(run.generator(ema), labels_for(classes, class_names(run.config.dataset)),
                    seed=seed)


def build(cfg: Config, run_dir=None, fresh: bool = False) -> Run:
    """Data, models, train step and callbacks for an AC-GAN run (`fresh`: start over)."""
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train = load_split(cfg, "train")
    image_shape, k = train.x.shape[1:], train.num_classes
    g = build_conditional_generator(cfg.latent_dim, k, image_shape, cfg.width, cfg.embed_dim,
                                    seed=cfg.seed)
    d = build_acgan_discriminator(image_shape, k, cfg.width, dropout=cfg.d_dropout,
                                  seed=cfg.seed)
    step = ACGANStep(g, d, num_classes=k, class_weight=cfg.class_weight,
                     fake_class_weight=cfg.fake_class_weight, **dcgan.step_options(cfg))
    # 10 x 10 snapshots: with the classes in turn, each column of the grid is one class
    return assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=10 * k, images=True,
                    score=class_fid_score(cfg.dataset, k, n_per_class=200), fresh=fresh,
                    train_y=train.y)
