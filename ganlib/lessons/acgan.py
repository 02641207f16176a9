"""Lesson 05: AC-GAN on Fashion-MNIST, a discriminator that also names the class."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .. import data, metrics
from ..models.auxiliary import build_acgan_discriminator
from ..models.conditional import build_conditional_generator, check_labels, generate
from ..steps import ACGANStep
from . import base, dcgan, evaluation
from .base import (
    Run,
    assemble,
    class_fid_score,
    load_labelled,
    run_dir_for,
    seed_everything,
)
from .checks import at_least, check, positive
from .interface import Lesson, QualityBench, Target

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

    def __post_init__(self):
        """Lesson 02's rules (`checks`), then this lesson's own."""
        super().__post_init__()
        check(self, positive("embed_dim", whole=True),
              at_least(0, "class_weight", "fake_class_weight"))


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


def build(cfg: Config, run_dir=None, fresh: bool = False, step_class=None,
          **overrides) -> Run:
    """Data, models, train step and callbacks for an AC-GAN run (`fresh`: start over).

    overrides: generator= (taking [noise, labels]), discriminator= (images -> [real/fake
    logit, class logits]), your own keras.Model in place of the lesson's; step_class: your
    subclass of ACGANStep.
    """
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train = load_split(cfg, "train")
    image_shape, k = train.x.shape[1:], train.num_classes
    nets = base.networks(
        NAME, overrides,
        generator=lambda: build_conditional_generator(cfg.latent_dim, k, image_shape, cfg.width,
                                                      cfg.embed_dim, seed=cfg.seed),
        discriminator=lambda: build_acgan_discriminator(image_shape, k, cfg.width,
                                                        dropout=cfg.d_dropout, seed=cfg.seed),
    )  # fmt: skip
    step = base.step_class(NAME, step_class, ACGANStep)(
        nets["generator"], nets["discriminator"], num_classes=k, class_weight=cfg.class_weight,
        fake_class_weight=cfg.fake_class_weight, **dcgan.step_options(cfg))
    # 10 x 10 snapshots: with the classes in turn, each column of the grid is one class
    return assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=10 * k, images=True,
                    score=class_fid_score(cfg.dataset, k, n_per_class=200), fresh=fresh,
                    train_y=train.y)


def measure(run: Run, smoke: bool = False) -> tuple[float, dict]:
    """The target's figure: the share of 1,000 images per class (50 for `smoke`) that the
    judge assigns to the class asked for."""
    return evaluation.intended_class_share(run, smoke)


def quality_bench(minutes: float = 10.0, n_per_class: int = 1000, seed: int = 0) -> dict:
    """Lesson 05 and lesson 02's DCGAN, each trained `minutes` here with its defaults: of
    n_per_class images per class from AC-GAN's EMA generator, the share the judge assigns to
    the class asked for (ceiling: its accuracy on the real test images), per-class FID, and
    within-class coverage next to real training images' and a class collapsed to 30 images';
    the judge FID of all of them next to lesson 02's on as many samples."""
    cfg = dataclasses.replace(Config(), minutes=minutes, steps=None, seed=seed)
    run = build(cfg, run_dir=evaluation.scratch_dir("quality-acgan"), fresh=True)
    train_seconds = evaluation.train_quietly(run)
    train = load_split(cfg, "train")
    k = train.num_classes
    labels = np.arange(k * n_per_class) % k
    images = generate(run.generator(), labels, seed=seed + 1)
    ours = metrics.conditional_metrics(images, labels, cfg.dataset, coverage=True)
    real_idx = np.concatenate([np.flatnonzero(train.y == c)[:n_per_class] for c in range(k)])
    real_x, real_y = train.x[real_idx], train.y[real_idx]
    real = metrics.conditional_metrics(real_x, real_y, cfg.dataset, coverage=True)
    thirty = metrics.collapsed_coverage(real_x, real_y, cfg.dataset, 30)
    overall, real_overall = (metrics.image_metrics(x, cfg.dataset) for x in (images, real_x))
    dcgan_run, lesson02 = dcgan.reference_run(minutes, k * n_per_class, seed)
    per_class = {name: {**v, "coverage": ours["coverage"][name],
                        "real_coverage": real["coverage"][name],
                        "coverage_30_per_class": thirty[name]}
                 for name, v in ours["per_class"].items()}
    return {
        "bench": "quality-acgan", "minutes": minutes, "dataset": cfg.dataset,
        "n_per_class": n_per_class, "steps": run.trainer.global_step,
        "train_seconds": round(train_seconds, 1),
        "intended_share": ours["intended_share"],
        "judge_test_accuracy": metrics.judge_info(cfg.dataset)["test_accuracy"],
        "fid": overall["fid"], "class_entropy_bits": overall["class_entropy_bits"],
        "lesson02_steps": dcgan_run.trainer.global_step, "lesson02_fid": lesson02["fid"],
        "real_fid_floor": real_overall["fid"],
        "narrow_classes": metrics.narrow_classes(ours["coverage"], real["coverage"], thirty),
        "mean_coverage_ratio": round(float(np.mean(
            [ours["coverage"][c] / real["coverage"][c] for c in ours["coverage"]])), 4),
        "per_class": per_class,
    }  # fmt: skip


LESSON = Lesson(
    number=5, name=NAME, title="AC-GAN: a discriminator that also names the class",
    target=Target("intended-class share", ">=", 0.90,
                  "set by the course: the judge files 9 in 10 samples under the class asked for"),
    measure=measure, unit="real images", inputs="noise+class",
    datasets=("fashion_mnist", "mnist"), quality=QualityBench(quality_bench),
)
