"""Lesson 01: a GAN that learns the points [x, sin x]."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import data, metrics
from ..losses import KINDS, AdversarialLoss
from ..models import build_mlp_discriminator, build_mlp_generator
from ..optimizers import FusedAdam
from ..steps import GANStep
from . import base
from .base import Run, assemble, run_dir_for, seed_everything
from .checks import activation, check, one_of, positive, sizes, training
from .interface import Lesson, Target

NAME = "sine"


@dataclasses.dataclass
class Config:
    """Every knob of lesson 01. The slides used latent_dim=100, g_hidden=(15,),
    d_hidden=(25,) and relu; the defaults here are a little wider so the curve comes out sharp
    in under two minutes on a CPU."""

    minutes: float | None = None
    steps: int | None = 6000
    batch_size: int = 150
    latent_dim: int = 8
    g_hidden: tuple = (64, 64)
    d_hidden: tuple = (64, 64)
    activation: str = "leaky_relu"
    lr: float = 1e-3
    beta_1: float = 0.5
    loss: str = "non_saturating"
    ema_decay: float | None = 0.995
    seed: int = 0
    xla: bool = False  # measured on a CPU: 0.8 ms a step without, 1.1 ms with
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 2000

    def __post_init__(self):
        """Refuse a value out of range (`checks`): a ConfigError naming field and range."""
        check(self, *training(), positive("latent_dim", whole=True),
              sizes("g_hidden", "d_hidden"), activation("activation"), one_of("loss", KINDS))

    def smoke(self) -> Config:
        return dataclasses.replace(self, steps=300, minutes=None, sample_every=100,
                                   checkpoint_every=200, log_every=20)


def mean_abs_error(generator, n: int = 2000, seed: int = 0) -> float:
    """Lesson 01's score: mean |y - sin x| of `n` points from fixed noise (lower is better)."""
    noise = np.random.default_rng(seed).standard_normal((n, generator.inputs[0].shape[-1]))
    points = np.asarray(generator(noise.astype("f4"), training=False))
    return metrics.point_metrics(points)["mean_abs_error"]


def build(cfg: Config, run_dir=None, fresh: bool = False, step_class=None,
          **overrides) -> Run:
    """Data, models, train step and callbacks for a sine-GAN run (`fresh`: start over).

    overrides: generator=, discriminator= (your own keras.Model in place of the lesson's);
    step_class: your subclass of GANStep (e.g. with its own `losses()`).
    """
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train = data.load("sine", "train", seed=cfg.seed)
    nets = base.networks(
        NAME, overrides,
        generator=lambda: build_mlp_generator(cfg.latent_dim, tuple(cfg.g_hidden), 2,
                                              cfg.activation),
        discriminator=lambda: build_mlp_discriminator(2, tuple(cfg.d_hidden), cfg.activation),
    )  # fmt: skip
    step = base.step_class(NAME, step_class, GANStep)(
        nets["generator"], nets["discriminator"],
        g_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1),
        d_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1),
        loss=AdversarialLoss(cfg.loss), seed=cfg.seed, jit_compile=cfg.xla,
    )  # fmt: skip
    return assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=1000, images=False,
                    score=("mean_abs_error", mean_abs_error), fresh=fresh)


def measure(run: Run, smoke: bool = False) -> tuple[float, dict]:
    """The target's figure: mean |y - sin x| of 10,000 points from the run's generator."""
    return mean_abs_error(run.generator(), n=10_000, seed=run.config.seed + 1), {}


LESSON = Lesson(
    number=1, name=NAME, title="A GAN that learns a sine curve",
    target=Target("mean |y - sin x|", "<=", 0.03,
                  "set by the course: G's points on average within 0.03 of the curve"),
    measure=measure, unit="real points [x, sin x]", output="points",
)
