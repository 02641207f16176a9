"""Lesson 09 (`gan_losses`): lesson 02's DCGAN trained with each of the well-known GAN losses.

One run trains one variant; `compare` trains several, each for the same training time and
with the same seeds, and scores each with judge FID at regular intervals of training time
(the clock paused while scoring), so the curves are FID over the time it cost to get there.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np

from .. import data, metrics
from ..models.blocks import NORMS
from ..optimizers import FusedAdam
from ..steps import GANStep
from ..timed_scores import TimedScores
from . import base, dcgan, evaluation
from .base import Run, assemble, run_dir_for, seed_everything
from .checks import at_least, check, fraction, one_of, positive
from .interface import Lesson, QualityBench, Target

NAME = "gan_losses"

# Lesson 02's settings: each variant changes only what its paper changes.
LESSON_02 = dict(loss="non_saturating", gradient_penalty=0.0, critic_steps=1, d_norm="batch",
                 spectral_norm=False, lr=2e-4, beta_1=0.5, beta_2=0.999)
VARIANTS = {
    "non_saturating": {},  # Goodfellow et al. 2014, G maximises log D(G(z)); lesson 02
    "least_squares": dict(loss="least_squares"),  # LSGAN, Mao et al. 2017
    # WGAN-GP, Gulrajani et al. 2017: critic with layer norm, 5 critic steps, Adam(1e-4, 0, 0.9)
    "wgan_gp": dict(loss="wasserstein", gradient_penalty=10.0, critic_steps=5, d_norm="layer",
                    lr=1e-4, beta_1=0.0, beta_2=0.9),
    "hinge": dict(loss="hinge"),  # Lim & Ye 2017; the loss of SN-GAN, SAGAN and BigGAN
    # SN-GAN, Miyato et al. 2018: spectral norm in D instead of batch norm, hinge loss
    "hinge_sn": dict(loss="hinge", spectral_norm=True, d_norm="none"),
}


@dataclasses.dataclass
class Config(dcgan.Config):
    """Lesson 02's knobs plus the loss's. The defaults are the `non_saturating` variant,
    lesson 02's loss, the one the others are compared with; `variant` gives the others. Two
    minutes per variant: the lesson trains five in about ten.

    ema_decay is 0.99, not lesson 02's 0.999: at a few hundred generator steps (WGAN-GP makes
    one per five critic steps) a 0.999 average would still hold most of the initial weights.
    """

    minutes: float | None = 2.0
    loss: str = "non_saturating"
    gradient_penalty: float = 0.0  # weight of WGAN-GP's penalty; 0 for none
    critic_steps: int = 1  # D's updates per G update, each on a fresh batch
    d_norm: str = "batch"  # D's normalisation: "batch", "layer" or "none"
    spectral_norm: bool = False  # spectral normalisation of every layer of D
    lr: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    ema_decay: float | None = 0.99
    sample_every: int = 250
    checkpoint_every: int = 500

    def __post_init__(self):
        """Lesson 02's rules (`checks`; the loss and its labels among them), then the loss's."""
        super().__post_init__()
        check(self, at_least(0, "gradient_penalty"), positive("critic_steps", whole=True),
              one_of("d_norm", NORMS), fraction("beta_2", below_one=True))

    def smoke(self) -> Config:
        return dataclasses.replace(super().smoke(), steps=60, sample_every=20,
                                   checkpoint_every=40)


def variant(name: str, **changes) -> Config:
    """The config of variant `name` (see `VARIANTS`), with `changes` on top."""
    if name not in VARIANTS:
        raise ValueError(f"Unknown variant {name!r}; choose one of {', '.join(VARIANTS)}.")
    return Config(**{**LESSON_02, **VARIANTS[name], **changes})


def name_of(cfg: Config) -> str:
    """The variant a config is (or "custom")."""
    settings = {k: getattr(cfg, k) for k in LESSON_02}
    return next((name for name, v in VARIANTS.items() if settings == {**LESSON_02, **v}),
                "custom")


def build(cfg: Config, run_dir=None, fresh: bool = False, keep_best: bool = True,
          step_class=None, **overrides) -> Run:
    """Data, models, train step and callbacks of one variant's run (`fresh`: start over).

    keep_best: keep the best checkpoint by judge FID every `sample_every` steps, as lesson 02
    does; `compare` turns it off and scores by training time instead.
    overrides: generator=, discriminator= (your own keras.Model in place of the lesson's);
    step_class: your subclass of GANStep (e.g. with a loss of your own in `losses()`).
    """
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train = data.load(cfg.dataset, "train")
    image_shape = train.x.shape[1:]
    nets = dcgan.networks(NAME, cfg, image_shape, overrides, norm=cfg.d_norm,
                          spectral_norm=cfg.spectral_norm)
    options = dcgan.step_options(cfg)
    options.update({f"{k}_optimizer": FusedAdam(cfg.lr, cfg.beta_1, cfg.beta_2)
                    for k in ("g", "d")})
    step = base.step_class(NAME, step_class, GANStep)(
        nets["generator"], nets["discriminator"], **options, gradient_penalty=cfg.gradient_penalty,
        critic_steps=cfg.critic_steps)
    # each step takes critic_steps fresh batches, one per update of D
    stream = functools.partial(data.batches, train.x, cfg.batch_size * cfg.critic_steps,
                               cfg.seed)
    return assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=64, images=True,
                    score=dcgan.fid_score(cfg.dataset) if keep_best else None, fresh=fresh,
                    batches=lambda start: stream(start_step=start))


def train_and_score(run: Run, evaluations: int = 6, n_curve: int = 1000,
                    n_final: int = 5000) -> dict:
    """Train a built run for its budget, scoring its (EMA) generator by judge FID of `n_curve`
    samples `evaluations` times, evenly over its training time (or its steps, for a step
    budget); then judge `n_final` samples. A dict for `compare`'s table and plots."""
    cfg = run.config
    dataset = cfg.dataset
    noise = np.random.default_rng(cfg.seed + 1).standard_normal((n_final, cfg.latent_dim))
    noise = noise.astype("f4")

    def fid_now():
        images = run.generator().predict(noise[:n_curve], batch_size=500, verbose=0)
        return metrics.fid_to_test(images, dataset), {}

    budget_s = math.inf if cfg.minutes is None else 60 * cfg.minutes
    every_steps = max(1, cfg.steps // evaluations) if cfg.steps else None
    watch = TimedScores(fid_now, budget_s, budget_s / evaluations, every_steps, verbose=False)
    run.trainer.callbacks.append(watch)
    if cfg.steps is not None:
        run.trainer.fit(steps=cfg.steps)
    else:  # the watch ends the run; the trainer's own clock counts the scoring too
        run.trainer.fit(minutes=cfg.minutes * 10 + 10)
    watch.finish(run.trainer)
    run.trainer.callbacks.remove(watch)
    images = run.generator().predict(noise, batch_size=500, verbose=0)
    final = metrics.image_metrics(images, dataset)
    return {
        "variant": name_of(cfg), "seed": cfg.seed, "steps": run.trainer.global_step,
        "d_updates": run.trainer.global_step * cfg.critic_steps,
        "train_seconds": round(watch.train_seconds(), 1),
        "curve": [(e["train_seconds"], e["step"], e["value"]) for e in watch.evaluations],
        "fid": final["fid"], "kid": final["kid"],
        "class_entropy_bits": final["class_entropy_bits"],
        "max_class_share": final["max_class_share"],
        "rollbacks": sum(1 for e in run.events if e["event"] == "rollback"),
        "n_final": n_final, "run_dir": str(run.run_dir),
    }


def compare(names=tuple(VARIANTS), seeds=(0,), out_dir=None, smoke: bool = False,
            evaluations: int = 6, n_curve: int = 1000, n_final: int = 5000,
            **changes) -> list[dict]:
    """Train each variant in `names` once per seed (same budget, same seeds) into
    `out_dir/<variant>-seed<k>`, afresh, and return `train_and_score`'s dict for each."""
    out_dir = run_dir_for(NAME, out_dir)
    rows = []
    for name in names:
        for seed in seeds:
            cfg = variant(name, seed=seed, **changes)
            if smoke:
                cfg = cfg.smoke()
            run = build(cfg, Path(out_dir) / f"{name}-seed{seed}", fresh=True, keep_best=False)
            run.trainer.progress = False
            rows.append(train_and_score(run, evaluations, n_curve, n_final))
            print(f"{name} seed {seed}: FID {rows[-1]['fid']:.2f} after {rows[-1]['steps']} "
                  f"steps in {rows[-1]['train_seconds']:.0f} s", flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    """Per variant: FID (n_final) median, min and max over seeds, and steps in the budget."""
    out = {}
    for name in dict.fromkeys(r["variant"] for r in rows):
        fids = [r["fid"] for r in rows if r["variant"] == name]
        steps = [r["steps"] for r in rows if r["variant"] == name]
        out[name] = {"runs": len(fids), "fid_median": round(float(np.median(fids)), 3),
                     "fid_min": round(min(fids), 3), "fid_max": round(max(fids), 3),
                     "g_steps": int(np.median(steps))}
    return out


def measure(run: Run, smoke: bool = False) -> tuple[float, dict]:
    """The target's figure: judge FID of 10,000 samples (1,000 for `smoke`)."""
    return evaluation.unconditional_fid(run, smoke)


def quality_bench(minutes: float = 2.0, seeds: int = 3, n: int = 5000,
                  first_seed: int = 0) -> dict:
    """Lesson 09: each loss variant trained `minutes` of training time per seed (`seeds` of
    them from first_seed on), judge FID over training time (1000 samples, 6 times) and of n
    samples at the end; per variant the median and range over seeds."""
    rows = compare(seeds=range(first_seed, first_seed + seeds),
                   out_dir=evaluation.scratch_dir("quality-losses"), minutes=minutes, steps=None,
                   n_final=n)
    return {"bench": "quality-losses", "minutes_per_run": minutes, "n": n,
            "dataset": Config().dataset,
            "summary": summary(rows), "runs": rows,
            "real_fid_floor": metrics.real_reference(Config().dataset, n)["fid"]}


LESSON = Lesson(
    number=9, name=NAME, title="GAN losses",
    target=Target("judge FID (10k)", "<=", 20.0,
                  "set by the course for lesson 09's default run, the non-saturating loss "
                  "in two minutes"),
    measure=measure,
    unit="generated images (WGAN-GP's variant also feeds D 5 real batches a step)",
    datasets=("fashion_mnist", "mnist"), variant=variant, variants=tuple(VARIANTS),
    quality=QualityBench(quality_bench, runs="seeds", first_run="first_seed"),
    former_names=("losses",),
)
