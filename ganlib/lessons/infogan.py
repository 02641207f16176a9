"""Lesson 04: InfoGAN on Fashion-MNIST (or MNIST), codes that find the classes unsupervised."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import data, metrics
from ..models.infogan import (
    build_infogan_discriminator,
    build_infogan_generator,
    draw_codes,
    predict_categories,
)
from ..optimizers import FusedAdam
from ..steps import InfoGANStep
from . import base, dcgan, evaluation
from .base import Run, assemble, run_dir_for, seed_everything
from .checks import at_least, check, fraction, pair, positive
from .interface import Lesson, QualityBench, Target

NAME = "infogan"


@dataclasses.dataclass
class Config(dcgan.Config):
    """Every knob of lesson 04: lesson 02's, plus the codes and the weights of their loss.

    On a GPU, try batch_size=128, width=64 and minutes=5.
    """

    latent_dim: int = 62  # noise, as in the paper's MNIST model; the codes come on top
    num_categories: int = 10  # the categorical code
    # continuous codes, uniform in [-1, 1]; 4 found classes better than the paper's 2 here
    # (docs/experiments.md, lesson 04)
    num_continuous: int = 4
    category_weight: float = 1.0  # weight of Q's categorical log-likelihood (the paper's 1)
    # ... and of its Gaussian log-likelihood, smaller as in the paper: at 1.0 the term, which
    # keeps falling as Q grows surer, drowned the game (docs/experiments.md, lesson 04)
    continuous_weight: float = 0.1
    # ours, not the paper's (see InfoGANStep): Q's categories made informative on real images
    # too; 3 sorted the classes best of the weights from 0 to 10 (docs/experiments.md, lesson 04)
    real_info_weight: float = 3.0
    # ... and in that term, the weight of "use every category" against "be sure of each
    # image" (IMSAT's mu; Fashion-MNIST's classes are of equal size); 4 sorted them better
    # than 1, the plain information (docs/experiments.md, lesson 04)
    category_balance: float = 4.0
    # ours too (see InfoGANStep): Q's category of a real image kept when it is shifted by up
    # to `max_shift` pixels and mirrored, which keeps most seeds from stalling below 50%
    # (docs/experiments.md, lesson 04)
    consistency_weight: float = 3.0
    max_shift: int = 2
    mirror: bool = True
    # ... and drawn up to this share smaller or larger (`zoom`), so that a category does not
    # follow a garment's size (docs/experiments.md, lesson 04)
    max_zoom: float = 0.15
    # ... and its rows scaled by r, its columns by 1 / r, r = e^u, |u| <= max_aspect, so that
    # a category does not follow a garment's outline, tall or wide (docs/experiments.md,
    # lesson 04)
    max_aspect: float = 0.25
    # ... and a square of this side blacked out (`cutout`, 0: none), so that a category does
    # not follow one part of a garment, a bag's handle, a boot's shaft (docs/experiments.md,
    # lesson 04)
    cutout_size: int = 9
    # ... and the moved image's brightness and contrast changed at random (`jitter_intensity`:
    # intensities on [0, 1] raised to e^u, u in [-gamma, gamma], then scaled so that the
    # garment's mean is a level uniform in [low, high]; None: no levelling), so that a
    # category does not follow how dark a garment is (docs/experiments.md, lesson 04)
    intensity_levels: tuple[float, float] | None = (0.35, 0.75)
    intensity_gamma: float = 0.5
    # ours (see InfoGANStep), off: G asked to make two images of the same codes differ with
    # their noise (Mao et al., 2019's mode-seeking term); without it G ignores its noise, but
    # with it G's categories draw their class less purely (docs/experiments.md, lesson 04)
    mode_seeking_weight: float = 0.0
    q_units: int = 128  # Q's hidden layer on D's features
    # G's own Adam learning rate (None: `lr`, as D's); the paper's 1e-3 (D 2e-4; against 2e-4:
    # docs/experiments.md, lesson 04)
    g_lr: float | None = 1e-3
    ema_decay: float | None = 0.995  # for G's samples; Q is D's, never averaged

    def __post_init__(self):
        """Lesson 02's rules (`checks`), then this lesson's own."""
        super().__post_init__()
        check(self, at_least(2, "num_categories", whole=True),
              at_least(0, "num_continuous", "max_shift", "cutout_size", whole=True),
              positive("q_units", whole=True),
              at_least(0, "category_weight", "continuous_weight", "real_info_weight",
                       "category_balance", "consistency_weight", "mode_seeking_weight",
                       "intensity_gamma"),
              fraction("max_zoom", "max_aspect", below_one=True),
              pair("intensity_levels", 0, 1, optional=True),
              positive("g_lr", optional=True))


def paper(cfg: Config | None = None) -> Config:
    """`cfg` (default: the lesson's defaults) made the paper's InfoGAN (Chen et al., 2016):
    the course's additions switched off (information on real images, consistency under
    moves, mode seeking: their weights 0, so the knobs inside them, `category_balance` and
    the moves, do nothing) and the paper's two continuous codes of its MNIST model. Every
    other setting stays as given: the budget, the seed, the networks, the learning rates (G's
    1e-3 and D's 2e-4 are the paper's) and G's moving average, which only picks the weights
    that samples are drawn from."""
    return dataclasses.replace(Config() if cfg is None else cfg, real_info_weight=0.0,
                               consistency_weight=0.0, mode_seeking_weight=0.0,
                               num_continuous=2)


def build(cfg: Config, run_dir=None, fresh: bool = False, step_class=None,
          **overrides) -> Run:
    """Data, models, train step and callbacks for an InfoGAN run (`fresh`: start over).

    Trains on the images alone: the labels of the dataset are only used to measure.
    overrides: generator= (taking [noise, category one-hot, continuous codes]),
    discriminator= (images -> [logit, category logits, code means, code log-scales]), your own
    keras.Model in place of the lesson's; step_class: your subclass of InfoGANStep.
    """
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train = data.load(cfg.dataset, "train")
    image_shape = train.x.shape[1:]
    nets = base.networks(
        NAME, overrides,
        generator=lambda: build_infogan_generator(cfg.latent_dim, cfg.num_categories,
                                                  cfg.num_continuous, image_shape, cfg.width,
                                                  seed=cfg.seed),
        discriminator=lambda: build_infogan_discriminator(image_shape, cfg.num_categories,
                                                          cfg.num_continuous, cfg.width,
                                                          cfg.q_units, dropout=cfg.d_dropout,
                                                          seed=cfg.seed),
    )  # fmt: skip
    g, d = nets["generator"], nets["discriminator"]
    options = dcgan.step_options(cfg)
    if cfg.g_lr is not None:
        options["g_optimizer"] = FusedAdam(cfg.g_lr, beta_1=cfg.beta_1)
    step = base.step_class(NAME, step_class, InfoGANStep)(g, d, category_weight=cfg.category_weight,
                       continuous_weight=cfg.continuous_weight,
                       real_info_weight=cfg.real_info_weight,
                       category_balance=cfg.category_balance,
                       consistency_weight=cfg.consistency_weight, max_shift=cfg.max_shift,
                       mirror=cfg.mirror, max_zoom=cfg.max_zoom,
                       max_aspect=cfg.max_aspect, cutout_size=cfg.cutout_size,
                       intensity_levels=cfg.intensity_levels,
                       intensity_gamma=cfg.intensity_gamma,
                       mode_seeking_weight=cfg.mode_seeking_weight, **options)
    # 10 x 10 snapshots: each column one category, continuous codes 0
    k = cfg.num_categories
    snapshot = draw_codes(g, 10 * k, cfg.seed, categories=np.arange(10 * k) % k,
                          continuous=np.zeros((10 * k, cfg.num_continuous)))
    scored = draw_codes(g, 1000, cfg.seed)
    return assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=10 * k, images=True,
                    score=dcgan.fid_score(cfg.dataset, codes=scored[1:]), fresh=fresh,
                    snapshot_codes=snapshot[1:])


def cluster_accuracy(run: Run, split: str = "test", dataset: str | None = None) -> dict:
    """Q's category of each real image of `split`, as an unsupervised classifier, matched to
    the true classes by the Hungarian method (`metrics.cluster_accuracy`)."""
    real = data.load(dataset or run.config.dataset, split)
    if real.y is None:
        raise ValueError(f"{real.name} has no class labels to measure the categories against.")
    found = predict_categories(run.models["discriminator"], data.to_model_range(real.x))
    return metrics.cluster_accuracy(found, real.y)


def measure(run: Run, smoke: bool = False) -> tuple[float, dict]:
    """The target's figure: the accuracy of Q's categories on the test images, each category
    matched to one class (Hungarian)."""
    return cluster_accuracy(run)["accuracy"], {}


def quality_bench(minutes: float = 10.0, seeds: int = 3, n: int = 10_000,
                  steps: int | None = None, first_seed: int = 0) -> dict:
    """Lesson 04 trained `minutes` (or `steps`, the same on every machine) with `seeds` seeds
    from first_seed on: accuracy of Q's categories on the test images (Hungarian-matched), per
    seed and the median; judge metrics of n samples per seed; k-means on the test images'
    pixels as the reference an InfoGAN should beat."""
    budget = evaluation.budget(minutes, steps)
    per_seed = []
    for seed in range(first_seed, first_seed + seeds):
        cfg = dataclasses.replace(Config(), **budget, seed=seed)
        run = build(cfg, run_dir=evaluation.scratch_dir(f"quality-infogan-{seed}"), fresh=True)
        evaluation.train_quietly(run)
        g = run.generator()
        codes = draw_codes(g, n, seed + 1)
        samples = metrics.category_metrics(g.predict(codes, batch_size=500, verbose=0),
                                           codes[1], cfg.dataset)
        per_seed.append({
            "seed": seed, "steps": run.trainer.global_step,
            "test_accuracy": cluster_accuracy(run)["accuracy"],
            "sample_category_accuracy": samples["category_accuracy"], "fid": samples["fid"],
        })  # fmt: skip
    test = data.load(cfg.dataset, "test")
    return {
        "bench": "quality-infogan", "minutes": cfg.minutes, "steps": cfg.steps,
        "dataset": cfg.dataset, "n": n,
        "seeds": per_seed,
        "median_test_accuracy": float(np.median([s["test_accuracy"] for s in per_seed])),
        "kmeans_pixels_test_accuracy": metrics.kmeans_pixel_accuracy(test.x, test.y),
    }  # fmt: skip


LESSON = Lesson(
    number=4, name=NAME, title="InfoGAN: codes that find the classes unsupervised",
    target=Target("Q test accuracy (Hungarian)", ">=", 0.65,
                  "set by the course for Fashion-MNIST, whose classes are harder to find without "
                  "labels than MNIST's (the paper: 5% error on MNIST)"),
    measure=measure, unit="real images", inputs="noise+codes",
    datasets=("fashion_mnist", "mnist"),
    quality=QualityBench(quality_bench, runs="seeds", first_run="first_seed", steps=True),
)
