"""Lesson 03: a conditional GAN that draws the traffic sign it is asked for."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import data
from ..data.traffic_signs import CLASS_NAMES, class_index  # noqa: F401  (CLASS_NAMES: re-exported)
from ..models.conditional import (
    build_conditional_generator,
    build_projection_discriminator,
    generate,
)
from ..steps import ConditionalGANStep
from . import dcgan
from .base import (
    Run,
    assemble,
    class_fid_score,
    load_labelled,
    run_dir_for,
    seed_everything,
)

NAME = "cgan"


@dataclasses.dataclass
class Config(dcgan.Config):
    """Every knob of lesson 03: lesson 02's, plus the label embedding and the data size.
    Defaults: over 95% of signs of the intended class in about ten minutes on a 2-core CPU.

    On a GPU, try batch_size=128, width=64 and minutes=5.
    """

    dataset: str = "traffic_signs"  # or "gtsrb" (the real photos, when available)
    embed_dim: int = 16  # size of G's label embedding, concatenated with the noise
    n_per_class: int | None = None  # rendered training signs per class (None: 5000)
    mismatch_weight: float = 1.0  # D also rejects real signs shown with a wrong label
    batch_size: int = 32  # more, smaller steps: on a CPU they learn the classes sooner
    # a shorter memory than lesson 02's 0.999: a CPU trains only a few thousand steps here
    ema_decay: float | None = 0.995

    def smoke(self) -> Config:
        """A few seconds of work, for CI: same code path, tiny budget and data."""
        return dataclasses.replace(super().smoke(), n_per_class=500)


def load_split(cfg: Config, split: str) -> data.ArrayDataset:
    """A split of the lesson's dataset (`n_per_class` applies to the rendered signs only)."""
    rendered = cfg.dataset == "traffic_signs" and split == "train"
    options = {"n_per_class": cfg.n_per_class} if rendered else {}
    return load_labelled(cfg.dataset, split, "a conditional GAN", **options)


def labels_for(classes, n: int | None = None) -> np.ndarray:
    """Labels from class indices or names (e.g. ["stop", 0]); with `n`, the classes in turn."""
    if isinstance(classes, (str, int, np.integer)):
        classes = [classes]
    labels = np.array([class_index(c) for c in classes], np.int32)
    return labels if n is None else np.resize(labels, n)


def sample(run: Run, classes, seed: int = 0, ema: bool = True) -> np.ndarray:
    """Images in [-1, 1], one per entry of `classes` (indices or names), from seeded noise."""
    return generate(run.generator(ema), labels_for(classes), seed=seed)


def build(cfg: Config, run_dir=None, fresh: bool = False) -> Run:
    """Data, models, train step and callbacks for a conditional-GAN run (`fresh`: start over)."""
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train = load_split(cfg, "train")
    image_shape, k = train.x.shape[1:], train.num_classes
    g = build_conditional_generator(cfg.latent_dim, k, image_shape, cfg.width, cfg.embed_dim,
                                    seed=cfg.seed)
    d = build_projection_discriminator(image_shape, k, cfg.width, dropout=cfg.d_dropout,
                                       seed=cfg.seed)
    step = ConditionalGANStep(g, d, num_classes=k, mismatch_weight=cfg.mismatch_weight,
                              **dcgan.step_options(cfg))
    return assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=64, images=True,
                    score=class_fid_score(cfg.dataset, k, n_per_class=250), fresh=fresh,
                    train_y=train.y)
