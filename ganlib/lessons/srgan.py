"""Lesson 10: SRGAN, super-resolution of Fashion-MNIST from 7 x 7 (or 14 x 14) to 28 x 28."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from .. import data, metrics
from ..data.resolution import FACTORS, bicubic, check_factor, low_resolution, shrink
from ..losses import KINDS, AdversarialLoss
from ..models import build_dcgan_discriminator
from ..models.blocks import NORMS
from ..models.srresnet import build_srresnet_generator
from ..models.translate import translate as run_generator
from ..optimizers import FusedAdam
from ..pixel_metrics import pixel_metrics
from ..steps.srgan import SRGANStep
from . import base, evaluation
from .base import Run, assemble, run_dir_for, seed_everything
from .checks import at_least, check, one_of, positive, rule, training
from .interface import Lesson, QualityBench, Target

NAME = "srgan"
# The judge's layers a content loss can compare: its three conv blocks (after ReLU; 28, 14
# and 7 pixels wide, the paper's VGG22 to VGG54) and its pooled 128-d features.
CONTENT_LAYERS = {"conv1": "re_lu", "conv2": "re_lu_1", "conv3": "re_lu_2",
                  "features": "features"}


@dataclasses.dataclass
class Config:
    """Every knob of lesson 10. Defaults: five minutes on a 2-core CPU, 7 x 7 -> 28 x 28.

    On a GPU, try width=64, blocks=16 (the paper's SRResNet) and batch_size=64.
    """

    dataset: str = "fashion_mnist"  # or "mnist" (its judge, the content network, is trained
    # once on first use)
    factor: int = 4  # 4: 7 x 7 inputs, 2: 14 x 14
    minutes: float | None = 5.0
    steps: int | None = None  # a step budget instead of minutes (exactly one is used)
    batch_size: int = 32
    width: int = 32  # G's filters (the paper: 64)
    blocks: int = 4  # G's residual blocks (the paper: 16)
    norm: str = "batch"  # G's normalisation (ESRGAN drops it: "none")
    d_width: int = 32  # D's first filters (lesson 02's discriminator)
    content_layer: str = "conv3"  # which of the judge's layers the content loss compares
    content_weight: float = 1.0
    pixel_weight: float = 1.0  # pixel MSE beside the content loss (the paper: none; here it
    # keeps the grey levels right, which the judge's features barely see)
    adversarial_weight: float = 1e-2  # the paper: 1e-3, which changes little here
    loss: str = "non_saturating"  # or "least_squares"
    lr: float = 1e-4  # the paper's Adam(1e-4, 0.9)
    beta_1: float = 0.9
    baseline: bool = True  # also train the same generator on pixel MSE alone, in the same run
    ema_decay: float | None = None  # SRGAN samples its generator as trained
    seed: int = 0
    xla: bool = False  # measured on a CPU: 54 ms a step without, 67 ms with; on a GPU, try True
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000

    def __post_init__(self):
        """Refuse a value out of range (`checks`): a ConfigError naming field and range."""
        check(self, one_of("factor", FACTORS), *training(),
              positive("width", "d_width", whole=True), at_least(0, "blocks", whole=True),
              one_of("norm", NORMS), one_of("content_layer", CONTENT_LAYERS, "the judge's layers"),
              at_least(0, "content_weight", "pixel_weight", "adversarial_weight"),
              rule(lambda c: c.content_weight + c.pixel_weight > 0,
                   lambda c: f"content_weight={c.content_weight!r} and pixel_weight="
                             f"{c.pixel_weight!r} leave G nothing to match the original with; "
                             "give one of them > 0."),
              one_of("loss", KINDS))

    def smoke(self) -> Config:
        """A few seconds of work, for CI: same code path, tiny budget."""
        return dataclasses.replace(self, minutes=None, steps=40, batch_size=8, width=8,
                                   blocks=1, d_width=8, sample_every=20, checkpoint_every=20,
                                   log_every=10)


def content_network(cfg: Config) -> keras.Model:
    """A frozen copy of the dataset's judge up to `cfg.content_layer`, made in the current
    (strategy) scope: the feature space of the content loss."""
    judge = metrics.judge(cfg.dataset)
    copy = keras.models.clone_model(judge)
    copy.set_weights(judge.get_weights())
    features = keras.Model(copy.input, copy.get_layer(CONTENT_LAYERS[cfg.content_layer]).output,
                           name=f"judge_{cfg.content_layer}")
    features.trainable = False
    return features


def build_networks(cfg: Config, image_shape):
    """(G, D, MSE-only G or None) for high-resolution images of `image_shape`."""
    side = image_shape[0] // cfg.factor
    low_shape = (side, side, image_shape[-1])

    def generator(name):
        return build_srresnet_generator(low_shape, cfg.factor, cfg.width, cfg.blocks,
                                        norm=cfg.norm, seed=cfg.seed, name=name)

    g = generator("generator")
    d = build_dcgan_discriminator(image_shape, cfg.d_width, seed=cfg.seed)
    baseline = None
    if cfg.baseline:  # the same architecture and starting weights, trained on MSE alone
        baseline = generator("mse_generator")
        baseline.set_weights(g.get_weights())
    return g, d, baseline


def sr_batches(images: np.ndarray, cfg: Config, start_step: int = 0) -> tf.data.Dataset:
    """(low-resolution, high-resolution) batches in [-1, 1], resumable like `data.batches`."""
    ds = data.batches(images, cfg.batch_size, cfg.seed, start_step=start_step)
    return ds.map(lambda high: (shrink(high, cfg.factor), high),
                  num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def split_test(cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels, reference features): the first half of the test split, whose
    low-resolution copies are upscaled and scored, and the judge features of the second half,
    the real images FID compares with. Disjoint halves, so an exact copy of the originals
    would not score 0 but what real images score: the floor."""
    test = data.load(cfg.dataset, "test")
    half = len(test) // 2
    return test.x[:half], test.y[:half], metrics.judge_outputs(test.x[half:], cfg.dataset)[0]


def judged(images, labels, reference: np.ndarray, dataset: str) -> dict:
    """Judge FID of `images` against the reference features, and the share of them the judge
    puts in their true class (`labels`)."""
    feats, probs = metrics.judge_outputs(images, dataset)
    return {"fid": round(metrics.frechet_distance(feats, reference), 3),
            "judge_accuracy": round(float((probs.argmax(1) == labels).mean()), 4)}


def score(cfg: Config, n: int = 1000):
    """The score a run keeps its best checkpoint by: the judge FID of G's outputs for the
    low-resolution copies of `n` test images (it rises if G blurs or invents the wrong things)."""
    images, _, reference = split_test(cfg)
    low = low_resolution(images[:n], cfg.factor)
    return ("fid", lambda g: metrics.frechet_distance(
        metrics.judge_outputs(run_generator(g, low), cfg.dataset)[0], reference))


def build(cfg: Config, run_dir=None, fresh: bool = False, step_class=None,
          **overrides) -> Run:
    """Data, models, train step and callbacks for an SRGAN run (`fresh`: start over).

    overrides: generator= (low-resolution -> high-resolution images), discriminator= (high-
    resolution images -> a logit), your own keras.Model in place of the lesson's (the MSE-only
    baseline stays the lesson's); step_class: your subclass of SRGANStep.
    """
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train, test = data.load(cfg.dataset, "train"), data.load(cfg.dataset, "test")
    check_factor(cfg.factor, train.x.shape[1])
    g, d, baseline = build_networks(cfg, train.x.shape[1:])
    nets = base.networks(NAME, overrides, generator=lambda: g, discriminator=lambda: d)
    step = base.step_class(NAME, step_class, SRGANStep)(
        nets["generator"], nets["discriminator"], content_network(cfg),
        loss=AdversarialLoss(cfg.loss),
        content_weight=cfg.content_weight, pixel_weight=cfg.pixel_weight,
        adversarial_weight=cfg.adversarial_weight,
        g_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1),
        d_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1),
        baseline=baseline,
        baseline_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1) if baseline else None,
        seed=cfg.seed, jit_compile=cfg.xla)
    return assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=16, images=True,
                    score=score(cfg), fresh=fresh,
                    batches=lambda start: sr_batches(train.x, cfg, start),
                    snapshot_inputs=data.to_model_range(low_resolution(test.x[:16], cfg.factor)))


def translate(run: Run, images, direction: str | None = None, baseline: bool = False):
    """The run's generator (or its MSE-only baseline) applied to low-resolution images (uint8
    or [-1, 1], H/factor x W/factor); returns [-1, 1] images `factor` times larger."""
    if direction is not None:
        raise ValueError("super-resolution goes one way, small to large; leave out direction.")
    return run_generator(run.models["baseline" if baseline else "generator"], images)


def evaluate(run: Run, n: int | None = None) -> dict:
    """Bicubic upsampling, the MSE-only generator and SRGAN on the low-resolution copies of
    (the first n of) the first half of the test images: PSNR, SSIM and L1 against the
    originals, and `judged` scores, the judge FID against the other half and the judge's
    accuracy on the outputs (is a shirt still a shirt?); beside them the same scores of the
    original images, the floor FID and the ceiling accuracy."""
    cfg = run.config
    images, labels, reference = split_test(cfg)
    images, labels = images[:n], labels[:n]
    low = low_resolution(images, cfg.factor)
    outputs = {"bicubic": bicubic(low, cfg.factor)}
    if "baseline" in run.models:
        outputs["mse"] = translate(run, low, baseline=True)
    outputs["srgan"] = translate(run, low)
    result = {"dataset": cfg.dataset, "factor": cfg.factor, "n": len(images),
              "step": run.trainer.global_step}
    for name, out in outputs.items():
        result[name] = {**pixel_metrics(out, images),
                        **judged(out, labels, reference, cfg.dataset)}
    result["real"] = judged(images, labels, reference, cfg.dataset)
    return result


def measure(run: Run, smoke: bool = False) -> tuple[float, dict]:
    """The target's figure: SRGAN's judge FID over the MSE-only generator's, on the first half
    of the test split (200 images for `smoke`)."""
    found = evaluate(run, n=200 if smoke else None)
    ours, mse = found["srgan"], found["mse"]
    return ours["fid"] / mse["fid"], {"fid": ours["fid"], "mse_fid": mse["fid"],
                                      "psnr": ours["psnr"], "mse_psnr": mse["psnr"]}


def quality_bench(minutes: float = 5.0, seed: int = 0) -> dict:
    """Lesson 10 trained `minutes` with its defaults: bicubic, the MSE-only generator and SRGAN
    scored on the 5,000 images of the first half of the test split (`evaluate`)."""
    cfg = dataclasses.replace(Config(), minutes=minutes, steps=None, seed=seed)
    run = build(cfg, run_dir=evaluation.scratch_dir("quality-srgan"), fresh=True)
    train_seconds = evaluation.train_quietly(run)
    result = evaluate(run)
    result["fid_ratio"] = round(result["srgan"]["fid"] / result["mse"]["fid"], 4)
    return {"bench": "quality-srgan", "minutes": minutes, "seed": seed,
            "train_seconds": round(train_seconds, 1), **result}


LESSON = Lesson(
    number=10, name=NAME, title="SRGAN: super-resolution",
    target=Target("judge FID, SRGAN / MSE alone", "<=", 0.6,
                  "set by the course: SRGAN's FID at most 60% of the MSE-only "
                  "generator's, trained in the same step (the paper's comparison)"),
    measure=measure, unit="training images (SRGAN's G, the MSE-only G and D)", inputs="image",
    datasets=("fashion_mnist", "mnist"), translate=translate,
    quality=QualityBench(quality_bench),
)
