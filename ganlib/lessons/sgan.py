"""Lesson 06: a semi-supervised GAN, a classifier taught by 100 labels and many unlabelled
images."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from .. import data
from ..callbacks import EMA, Callback
from ..models import build_dcgan_generator
from ..models.classifier import (
    build_classifier_discriminator,
    build_mlp_classifier_discriminator,
    classifier_of,
)
from ..models.mlp import build_mlp_image_generator
from ..optimizers import FusedAdam, HoldThenLinearDecay
from ..steps import SemiSupervisedGANStep
from . import base, dcgan, evaluation
from .base import Run, assemble, load_labelled, run_dir_for, seed_everything
from .checks import at_least, check, fraction, one_of, positive, rule
from .interface import Lesson, QualityBench, Target

NAME = "sgan"
CLASSIFIER_FILE = "classifier.keras"  # the GAN's classifier: images in [-1, 1] -> logits
BASELINE_FILE = "baseline_classifier.keras"  # the same network trained on the labels alone
# how runs saved before a knob existed trained (`registry.load_config`): at a constant rate,
# on one unlabelled image per labelled one
OLDER_RUNS = {"lr_decay_from": None, "unlabelled_per_labelled": 1}


@dataclasses.dataclass
class Config(dcgan.Config):
    """Every knob of lesson 06: lesson 02's, plus the labelled subset and D's regularisers.
    Defaults: 10,000 steps, 6-10 minutes on a 2-core CPU. On a GPU, try
    batch_size=100 (at most the labelled images; on a 2-core CPU it made fewer steps and a
    stronger baseline: docs/experiments.md, lesson 06).
    """

    # A step budget, not minutes: the learning rate decays over it (`lr_decay_from`), and at
    # a constant rate D's classifier falls back after ~9,000-12,000 steps, so a time budget
    # would over-train it on a faster machine (docs/experiments.md, lesson 06)
    minutes: float | None = None
    steps: int | None = 10_000
    labels_per_class: int = 10  # labelled training images per class (100 for 10 classes)
    label_seed: int = 0  # which images are labelled: another seed, another draw
    # weight of the GAN loss in D's loss; 0.25 gained at least as much as Improved-GAN's 0.5,
    # 1.0 less (docs/experiments.md, lesson 06)
    unsupervised_weight: float = 0.25
    # r, the unlabelled images per labelled one in each step, and as many of G's: each step
    # feeds D `batch_size` labelled images and r x `batch_size` unlabelled and generated ones.
    # The 100 labels are memorised in a few hundred steps; what D goes on learning comes from
    # the rest: 2 raised D by about a point over 1, each step a third slower, and 4 no further
    # (docs/experiments.md, lesson 06)
    unlabelled_per_labelled: int = 2
    feature_matching: bool = True  # G's loss; False: non-saturating on D's derived logit
    # D and the baseline: "mlp" (Improved-GAN's MNIST D without its weight normalisation,
    # which gained less with it) or "conv" (a smaller gain in slower steps, falling with the
    # MLP G: docs/experiments.md, lesson 06)
    architecture: str = "mlp"
    # G: "mlp" (Improved-GAN's MNIST G, ~1/70 of a DCGAN G's work: about twice the steps in
    # the same minutes, the classifier as good per step) or "dcgan" (lesson 02's, nicer images)
    generator: str = "mlp"
    # Adam, for G, D and the baseline; 1e-3 gained more than 5e-4 or 2e-3
    # (docs/experiments.md, lesson 06)
    lr: float = 1e-3
    # A share h of `steps`: Adam's learning rate stays `lr` for h x steps, then falls linearly
    # to 0 at `steps`, for G, D and the baseline (`HoldThenLinearDecay`; needs a step budget;
    # None: it stays `lr`, as with `minutes`). The baseline's latest weights then stop
    # jumping, so its average no longer dips and the two gains agree (docs/experiments.md,
    # lesson 06)
    lr_decay_from: float | None = 0.5
    d_dropout: float = 0.3  # conv only: after each of D's (and the baseline's) conv blocks
    input_noise: float = 0.1  # conv only: std of Gaussian noise on D's input while training
    ema_decay: float | None = None  # the classifier is the product here, not G's samples
    # the classifiers scored and exported are averages of D's and of the baseline's weights
    # over the last ~1/(1 - decay) steps (None: the latest weights); the average raised D's
    # accuracy on every draw (docs/experiments.md, lesson 06)
    classifier_ema: float | None = 0.999
    xla: bool = True  # measured on a CPU: with two MLPs, XLA's fused step is a little faster

    def __post_init__(self):
        """Lesson 02's rules (`checks`), then this lesson's own."""
        super().__post_init__()
        check(self, positive("labels_per_class", "unlabelled_per_labelled", whole=True),
              at_least(0, "label_seed", whole=True),
              at_least(0, "unsupervised_weight", "input_noise"),
              one_of("architecture", ("mlp", "conv")), one_of("generator", ("mlp", "dcgan")),
              fraction("lr_decay_from", "classifier_ema", below_one=True, optional=True),
              rule(lambda c: c.lr_decay_from is None or c.steps is not None,
                   lambda c: f"lr_decay_from needs a step budget to decay over (lr_decay_from="
                             f"{c.lr_decay_from!r}, steps=None): set steps (not minutes), or "
                             "turn the decay off with lr_decay_from=None (from the command "
                             "line: --set lr_decay_from=null)."))

    def smoke(self) -> Config:
        return dataclasses.replace(super().smoke(), ema_decay=None)


def labelled_subset(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` images of each class, drawn by `seed` (sorted by class)."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    rng = np.random.default_rng(seed)
    picked = []
    for c in classes:
        pool = np.flatnonzero(labels == c)
        if per_class < 1 or per_class > len(pool):
            raise ValueError(f"labels_per_class={per_class}, but class {c} has {len(pool)} "
                             "images; use a number between 1 and that.")
        picked.append(rng.choice(pool, per_class, replace=False))
    return np.concatenate(picked)


def _batches(cfg: Config, train: data.ArrayDataset, labelled: np.ndarray):
    """start_step -> (unlabelled batch, (labelled batch, labels)): every training image as
    unlabelled (`unlabelled_per_labelled` x `batch_size` a step), and the labelled few cycled
    in their own seeded order."""
    x_labelled, y_labelled = train.x[labelled], train.y[labelled]
    if cfg.batch_size > len(labelled):
        raise ValueError(f"batch_size {cfg.batch_size} is larger than the {len(labelled)} "
                         "labelled images; lower it or raise labels_per_class.")

    def batches(start: int) -> tf.data.Dataset:
        unlabelled = data.batches(train.x, cfg.batch_size * cfg.unlabelled_per_labelled,
                                  cfg.seed, start_step=start)
        few = data.batches(x_labelled, cfg.batch_size, cfg.seed + 1, y=y_labelled,
                           start_step=start)
        return tf.data.Dataset.zip((unlabelled, few))

    return batches


class ExportClassifiers(Callback):
    """At the end of training, write the GAN's classifier and the baseline as .keras files."""

    def __init__(self, run_dir, networks: dict):
        self.run_dir, self.networks = run_dir, networks

    def on_train_end(self, trainer):
        for name, file in (("gan", CLASSIFIER_FILE), ("baseline", BASELINE_FILE)):
            classifier_of(self.networks[name]).save(self.run_dir / file)


def classifiers(run: Run, averaged: bool = True) -> dict:
    """{"gan": D, "baseline": the labels-only network}: the weight averages when the run keeps
    them (`classifier_ema`) and `averaged`, else the latest weights. Both return [logits,
    features]; `classifier_of` turns one into a plain classifier."""
    prefix = "ema_" if averaged and "ema_discriminator" in run.models else ""
    return {"gan": run.models[prefix + "discriminator"],
            "baseline": run.models[prefix + "baseline"]}


def build(cfg: Config, run_dir=None, fresh: bool = False, step_class=None,
          **overrides) -> Run:
    """Data, models, train step and callbacks for a semi-supervised run (`fresh`: start over).

    overrides: generator=, discriminator= (images -> [class logits, features]), baseline=
    (the labels-only classifier, the same shapes), your own keras.Model in place of the
    lesson's; step_class: your subclass of SemiSupervisedGANStep.
    """
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train = load_labelled(cfg.dataset, "train", "a semi-supervised GAN")
    labelled = labelled_subset(train.y, cfg.labels_per_class, cfg.label_seed)
    image_shape, k = train.x.shape[1:], train.num_classes

    def generator():
        if cfg.generator == "mlp":
            return build_mlp_image_generator(cfg.latent_dim, image_shape, seed=cfg.seed)
        return build_dcgan_generator(cfg.latent_dim, image_shape, cfg.width, seed=cfg.seed)

    def classifier(name):
        if cfg.architecture == "mlp":
            return build_mlp_classifier_discriminator(image_shape, k, seed=cfg.seed, name=name)
        return build_classifier_discriminator(image_shape, k, cfg.width, cfg.d_dropout,
                                              cfg.input_noise, seed=cfg.seed, name=name)

    decay = None
    if cfg.lr_decay_from is not None:
        decay = HoldThenLinearDecay(cfg.steps, cfg.lr_decay_from)
    nets = base.networks(NAME, overrides, generator=generator,
                         discriminator=lambda: classifier("discriminator"),
                         baseline=lambda: classifier("baseline"))
    step = base.step_class(NAME, step_class, SemiSupervisedGANStep)(
        nets["generator"], nets["discriminator"], nets["baseline"],
        g_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1, decay=decay),
        d_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1, decay=decay),
        baseline_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1, decay=decay),
        unsupervised_weight=cfg.unsupervised_weight, feature_matching=cfg.feature_matching,
        seed=cfg.seed, jit_compile=cfg.xla)
    run = assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=64, images=True, fresh=fresh,
                   batches=_batches(cfg, train, labelled), older_runs=OLDER_RUNS)
    if cfg.classifier_ema:
        for name in ("discriminator", "baseline"):
            ema = EMA(step.networks[name], cfg.classifier_ema, key=f"ema_{name}")
            run.models[ema.key] = ema.model
            run.trainer.callbacks.append(ema)
    run.trainer.callbacks.append(ExportClassifiers(run.run_dir, classifiers(run)))
    return run


def test_accuracy(run: Run, dataset: str | None = None) -> dict:
    """Accuracy on the test split of the GAN's classifier and of the labels-only baseline (the
    weight averages when the run keeps them, and then also `gan_latest`, `baseline_latest`:
    the latest weights')."""
    test = data.load(dataset or run.config.dataset, "test")
    x = data.to_model_range(test.x)
    scored = classifiers(run)
    if "ema_discriminator" in run.models:
        scored.update({f"{name}_latest": model
                       for name, model in classifiers(run, averaged=False).items()})
    result = {}
    for name, model in scored.items():
        logits = classifier_of(model).predict(x, batch_size=1000, verbose=0)
        result[name] = round(float(np.mean(logits.argmax(-1) == test.y)), 4)
    return result


def gains(accuracy: dict) -> dict:
    """What the unlabelled images add, from `test_accuracy`'s dict: `gain`, the GAN's
    classifier minus the baseline, and `gain_over_better_baseline`, minus the better of the
    baseline's averaged and latest weights (the same when the run keeps no averages). The
    second is the sterner figure: the baseline fits its 100 labels to a loss near 0, a noisy
    batch now and then makes its weights jump, and for the next few hundred steps its average
    mixes two far-apart weight sets and can score 17 points below its latest weights."""
    baseline = accuracy["baseline"]
    better = max(baseline, accuracy.get("baseline_latest", baseline))
    return {"gain": round(accuracy["gan"] - baseline, 4),
            "gain_over_better_baseline": round(accuracy["gan"] - better, 4)}


def measure(run: Run, smoke: bool = False) -> tuple[float, dict]:
    """The target's figure: the GAN's classifier's test accuracy minus the better of the
    baseline's averaged and latest weights' (a dip of the baseline's average reaches no
    target), and every accuracy."""
    found = test_accuracy(run)
    return gains(found)["gain_over_better_baseline"], found


def quality_bench(minutes: float | None = None, draws: int = 3, seed: int = 0,
                  steps: int | None = None, first_draw: int = 0) -> dict:
    """Lesson 06 trained on each of `draws` label draws (label_seed first_draw, first_draw + 1,
    ...) for its default budget (a step budget), or `steps` or `minutes` if given (minutes: at
    a constant learning rate, as its decay needs a step budget): test accuracy of the GAN's
    classifier and of the labels-only baseline, per draw and mean, and the standard error of
    the mean gain; with weight averages (the default), also the latest weights', and the gain
    over the better of the baseline's two on each draw."""
    per_draw = []
    budget = evaluation.budget(minutes, steps)
    if budget.get("minutes") is not None:
        budget["lr_decay_from"] = None
    for label_seed in range(first_draw, first_draw + draws):
        cfg = dataclasses.replace(Config(), **budget, seed=seed, label_seed=label_seed)
        run = build(cfg, run_dir=evaluation.scratch_dir(f"quality-sgan-{label_seed}"), fresh=True)
        train_minutes = evaluation.train_quietly(run) / 60
        accuracy = test_accuracy(run)
        per_draw.append({"label_seed": label_seed, "steps": run.trainer.global_step,
                         "train_minutes": round(train_minutes, 2), **accuracy,
                         **gains(accuracy)})
    gan = float(np.mean([d["gan"] for d in per_draw]))
    baseline = float(np.mean([d["baseline"] for d in per_draw]))
    sterner = float(np.mean([d["gain_over_better_baseline"] for d in per_draw]))
    result = {
        "bench": "quality-sgan", "minutes": cfg.minutes, "steps": cfg.steps,
        "lr_decay_from": cfg.lr_decay_from, "dataset": cfg.dataset,
        "labels_per_class": cfg.labels_per_class, "classifier_ema": cfg.classifier_ema,
        "draws": per_draw,
        "mean_gan_accuracy": round(gan, 4), "mean_baseline_accuracy": round(baseline, 4),
        "mean_gain_points": round(100 * (gan - baseline), 2),
        "mean_gain_over_better_baseline_points": round(100 * sterner, 2),
        "gain_stderr_points": evaluation.stderr_points([d["gain"] for d in per_draw]),
    }  # fmt: skip
    return result


LESSON = Lesson(
    number=6, name=NAME, title="A semi-supervised GAN: a classifier from 100 labels",
    target=Target("test accuracy gain over labels-only", ">=", 0.10,
                  "set by the course: +10 points over the same classifier trained on the 100 "
                  "labels alone (the better of its averaged and latest weights)"),
    measure=measure,
    unit="labelled images (plus unlabelled_per_labelled x as many unlabelled and generated)",
    datasets=("fashion_mnist", "mnist"), classifier=True,
    quality=QualityBench(quality_bench, runs="draws", first_run="first_draw", steps=True),
    older_runs=OLDER_RUNS,
)
