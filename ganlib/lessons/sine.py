"""Lesson 01: a GAN that learns the points [x, sin x]."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from .. import data
from ..callbacks import EMA, Checkpoints, Snapshots
from ..losses import AdversarialLoss
from ..models import build_mlp_discriminator, build_mlp_generator
from ..steps import GANStep
from ..trainer import Trainer
from .base import Run, default_run_dir, save_config, seed_everything

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
    xla: bool = True
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 2000

    def smoke(self) -> Config:
        return dataclasses.replace(self, steps=300, minutes=None, sample_every=100,
                                   checkpoint_every=200, log_every=20)


def build(cfg: Config, run_dir=None) -> Run:
    run_dir = default_run_dir(NAME) if run_dir is None else Path(run_dir)
    seed_everything(cfg.seed)
    train = data.load("sine", "train", seed=cfg.seed)
    g = build_mlp_generator(cfg.latent_dim, tuple(cfg.g_hidden), 2, cfg.activation)
    d = build_mlp_discriminator(2, tuple(cfg.d_hidden), cfg.activation)
    step = GANStep(
        g, d,
        g_optimizer=keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta_1),
        d_optimizer=keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta_1),
        loss=AdversarialLoss(cfg.loss), seed=cfg.seed, jit_compile=cfg.xla,
    )  # fmt: skip
    models = {"generator": g, "discriminator": d}
    callbacks = []
    if cfg.ema_decay:
        ema = EMA(g, cfg.ema_decay)
        models["ema_generator"] = ema.model
        callbacks.append(ema)
    noise = np.random.default_rng(cfg.seed).standard_normal((1000, cfg.latent_dim)).astype("f4")
    snapshots = Snapshots(models.get("ema_generator", g), noise, every=cfg.sample_every,
                          save_images=False)
    callbacks = [Checkpoints(cfg.checkpoint_every), *callbacks, snapshots]
    save_config(cfg, run_dir, NAME)
    trainer = Trainer(step, data.batches(train.x, cfg.batch_size, seed=cfg.seed), run_dir,
                      callbacks, log_every=cfg.log_every)
    return Run(cfg, run_dir, trainer, models, snapshots)
