"""Lesson 02: DCGAN on Fashion-MNIST (or MNIST)."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import data, metrics
from ..losses import AdversarialLoss
from ..models import build_dcgan_discriminator, build_dcgan_generator
from ..optimizers import FusedAdam
from ..steps import GANStep
from .base import Run, assemble, run_dir_for, seed_everything

NAME = "dcgan"
# judge FID (10,000 samples) of the defaults after 10 minutes alone on a 2-core AMD EPYC with
# AVX-512 (21,249 steps, 2026-12-07, `bench quality acgan`): what lessons 05 and 11 compare with
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
    xla: bool = False  # measured on the 2-core AVX-512 CPU: TF's oneDNN convolutions beat
    # XLA's here (step 40 vs 51 ms; lessons 03-05 and 09 alike). On a GPU, try True.
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000

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


def build(cfg: Config, run_dir=None, fresh: bool = False) -> Run:
    """Data, models, train step and callbacks for a DCGAN run (`fresh`: start over)."""
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train = data.load(cfg.dataset, "train")
    image_shape = train.x.shape[1:]
    g = build_dcgan_generator(cfg.latent_dim, image_shape, cfg.width, seed=cfg.seed)
    d = build_dcgan_discriminator(image_shape, cfg.width, dropout=cfg.d_dropout, seed=cfg.seed)
    step = GANStep(g, d, **step_options(cfg))
    return assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=64, images=True,
                    score=fid_score(cfg.dataset), fresh=fresh)
