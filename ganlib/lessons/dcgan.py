"""Lesson 02: DCGAN on Fashion-MNIST (or MNIST)."""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import data, metrics
from ..losses import KINDS, SCORE_KINDS, AdversarialLoss
from ..models import build_dcgan_discriminator, build_dcgan_generator
from ..optimizers import FusedAdam
from ..steps import GANStep
from . import base, evaluation
from .base import Run, assemble, run_dir_for, seed_everything
from .checks import between, check, fraction, one_of, positive, rule, training
from .interface import Lesson, QualityBench, Target

NAME = "dcgan"
# judge FID (10,000 samples) of the defaults after 10 minutes on a 2-core CPU: what lessons 05
# and 11 compare with (docs/experiments.md, lesson 02)
TEN_MINUTE_FID = 1.16


@dataclasses.dataclass
class Config:
    """Every knob of lesson 02. Defaults: a good result in about ten minutes on a 2-core CPU.

    On a GPU, try batch_size=128, width=64 and minutes=5: more images per second buys a
    wider network.
    """

    dataset: str = "fashion_mnist"
    minutes: float | None = 10.0
    steps: int | None = None  # a step budget instead of minutes (exactly one is used)
    batch_size: int = 64
    latent_dim: int = 64
    width: int = 32  # filters of the widest-resolution conv layer; others double
    lr: float = 2e-4
    beta_1: float = 0.5
    loss: str = "non_saturating"  # or "minimax", "least_squares"
    real_label: float = 1.0  # 0.9 = one-sided label smoothing
    flip_prob: float = 0.0  # e.g. 0.05 = noisy labels
    d_dropout: float = 0.0
    ema_decay: float | None = 0.999  # None: sample from the raw generator
    seed: int = 0
    xla: bool = False  # on a CPU, TF's oneDNN convolutions beat XLA's (docs/experiments.md,
    # lesson 02). On a GPU, try True.
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000

    def __post_init__(self):
        """Refuse a value out of range (`checks`): a ConfigError naming field and range. The
        lessons built on this Config call it first, and so keep these rules."""
        check(self, *training(), positive("latent_dim", "width", whole=True),
              fraction("d_dropout", below_one=True), one_of("loss", KINDS),
              between(0, 1, "real_label", low_open=True),
              between(0, 0.5, "flip_prob", high_open=True),
              rule(lambda c: c.loss not in SCORE_KINDS or (c.real_label == 1 and not c.flip_prob),
                   lambda c: f"loss={c.loss!r} has no labels to smooth or flip (real_label="
                             f"{c.real_label!r}, flip_prob={c.flip_prob!r}); leave real_label "
                             "at 1.0 and flip_prob at 0."))

    def smoke(self) -> Config:
        """A few seconds of work, for CI: same code path, tiny budget."""
        return dataclasses.replace(self, minutes=None, steps=150, sample_every=50,
                                   checkpoint_every=100, log_every=10, ema_decay=0.9)


def fid_score(dataset: str, n: int = 1000, seed: int = 0, codes=(), crop=None):
    """Lesson 02's score, judge FID of `n` samples from fixed noise, if `dataset` has a judge.

    (None when it has none yet: the run then keeps no best checkpoint rather than stopping to
    train a judge.) FID at n=1000 is biased upwards but ranks checkpoints as well as at 10k.
    codes: G's further inputs after the noise (arrays of `n` rows), e.g. InfoGAN's codes.
    crop: images -> the dataset's size, for a G that draws a larger canvas (lesson 11).
    """
    if not metrics.judge_available(dataset):
        print(f"No judge for {dataset} yet, so this run keeps no best checkpoint; "
              f"`python -m ganlib judge --dataset {dataset}` trains one.")
        return None

    def fid(generator) -> float:
        noise = np.random.default_rng(seed).standard_normal((n, generator.inputs[0].shape[-1]))
        inputs = [noise.astype("f4"), *codes] if len(codes) else noise.astype("f4")
        images = generator.predict(inputs, batch_size=500, verbose=0)
        return metrics.fid_to_test(images if crop is None else crop(images), dataset)

    return ("fid", fid)


def step_options(cfg: Config) -> dict:
    """The train step's optimizers, loss, seed and XLA switch from a config (lessons 02, 03)."""
    return dict(
        g_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1),
        d_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1),
        loss=AdversarialLoss(cfg.loss, cfg.real_label, cfg.flip_prob),
        seed=cfg.seed, jit_compile=cfg.xla,
    )  # fmt: skip


def networks(lesson: str, cfg: Config, image_shape, overrides: dict, **d_options) -> dict:
    """Lesson 02's G and D for `cfg`, or the learner's own in their place (`base.networks`);
    d_options: more options of D's builder (lesson 09's normalisation)."""
    return base.networks(
        lesson, overrides,
        generator=lambda: build_dcgan_generator(cfg.latent_dim, image_shape, cfg.width,
                                                seed=cfg.seed),
        discriminator=lambda: build_dcgan_discriminator(image_shape, cfg.width,
                                                        dropout=cfg.d_dropout, seed=cfg.seed,
                                                        **d_options),
    )  # fmt: skip


def build(cfg: Config, run_dir=None, fresh: bool = False, step_class=None,
          **overrides) -> Run:
    """Data, models, train step and callbacks for a DCGAN run (`fresh`: start over).

    overrides: generator=, discriminator= (your own keras.Model in place of the lesson's);
    step_class: your subclass of GANStep (e.g. with its own `losses()`).
    """
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train = data.load(cfg.dataset, "train")
    image_shape = train.x.shape[1:]
    nets = networks(NAME, cfg, image_shape, overrides)
    step = base.step_class(NAME, step_class, GANStep)(nets["generator"], nets["discriminator"],
                                                      **step_options(cfg))
    return assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=64, images=True,
                    score=fid_score(cfg.dataset), fresh=fresh)


def measure(run: Run, smoke: bool = False) -> tuple[float, dict]:
    """The target's figure: judge FID of 10,000 samples (1,000 for `smoke`)."""
    return evaluation.unconditional_fid(run, smoke)


# --- the quality bench: lesson 02 against the TensorFlow tutorial's DCGAN --------------------
def build_tutorial_dcgan(latent_dim: int = 100):
    """The generator and discriminator of the TensorFlow DCGAN tutorial (Sequential models)."""
    g = keras.Sequential([
        keras.Input((latent_dim,)),
        layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False,
                               activation="tanh"),
    ], name="tutorial_generator")  # fmt: skip
    d = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1),
    ], name="tutorial_discriminator")  # fmt: skip
    return g, d


def train_tutorial_dcgan(images: np.ndarray, minutes: float, seed: int = 0):
    """The tutorial's own train step (two tapes, Adam 1e-4, batch 256), for `minutes`."""
    keras.utils.set_random_seed(seed)
    g, d = build_tutorial_dcgan()
    g_opt, d_opt = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(real):
        noise = tf.random.normal([256, 100])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = g(noise, training=True)
            real_out, fake_out = d(real, training=True), d(fake, training=True)
            g_loss = bce(tf.ones_like(fake_out), fake_out)
            d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, g.trainable_variables),
                                  g.trainable_variables))
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, d.trainable_variables),
                                  d.trainable_variables))

    steps = 0
    deadline = time.monotonic() + 60 * minutes
    for real in data.batches(images, 256, seed=seed):
        if time.monotonic() >= deadline:
            break
        train_step(real)
        steps += 1
    return g, steps


def reference_run(minutes: float, n: int, seed: int) -> tuple[Run, dict]:
    """Lesson 02's default run trained `minutes` here, and the judge metrics of n samples:
    the reference lessons 05 and 11 compare with."""
    cfg = dataclasses.replace(Config(), minutes=minutes, steps=None, seed=seed)
    run = build(cfg, run_dir=evaluation.scratch_dir("quality-dcgan"), fresh=True)
    evaluation.train_quietly(run)
    samples = evaluation.sample_unconditional(run.generator(), n, seed + 1)
    return run, metrics.image_metrics(samples, cfg.dataset)


def quality_bench(minutes: float = 10.0, n: int = 10_000, seed: int = 0) -> dict:
    """Lesson 02 and the tutorial DCGAN, each trained `minutes` here, judged on n samples."""
    run, ours = reference_run(minutes, n, seed)
    cfg = run.config
    images = data.load(cfg.dataset, "train").x
    tutorial_g, tutorial_steps = train_tutorial_dcgan(images, minutes, seed)
    theirs = metrics.image_metrics(evaluation.sample_unconditional(tutorial_g, n, seed + 1),
                                   cfg.dataset)
    real = metrics.real_reference(cfg.dataset, n, seed)
    return {
        "bench": "quality-dcgan", "minutes": minutes, "dataset": cfg.dataset, "n": n,
        "ganlib_steps": run.trainer.global_step, "tutorial_steps": tutorial_steps,
        "ganlib_fid": ours["fid"], "tutorial_fid": theirs["fid"],
        "fid_ratio": round(ours["fid"] / theirs["fid"], 4),
        "ganlib_class_entropy_bits": ours["class_entropy_bits"],
        "tutorial_class_entropy_bits": theirs["class_entropy_bits"],
        "ganlib_max_class_share": ours["max_class_share"],
        "tutorial_max_class_share": theirs["max_class_share"],
        "real_fid_floor": real["fid"], "real_class_entropy_bits": real["class_entropy_bits"],
    }  # fmt: skip


LESSON = Lesson(
    number=2, name=NAME, title="DCGAN",
    target=Target("judge FID (10k)", "<=", 5.0,
                  "set here; the course states none (the TF tutorial's DCGAN scores far "
                  "higher in the same minutes: `bench quality dcgan`)"),
    measure=measure, unit="real images", datasets=("fashion_mnist", "mnist"),
    quality=QualityBench(quality_bench),
)
