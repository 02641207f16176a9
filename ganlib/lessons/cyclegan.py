"""Lesson 08: CycleGAN, translation between two domains without paired images."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from .. import data, domain_metrics, metrics
from ..data.domains import CLASS_PAIRS, TFDS_PAIRS, DomainPair, load_domains
from ..data.paired import check_direction
from ..losses import AdversarialLoss
from ..models.patchgan import build_patchgan_discriminator
from ..models.resnet_generator import build_resnet_generator
from ..models.translate import translate as translate_images
from ..models.unet import build_unet_generator, unet_depth
from ..optimizers import FusedAdam, HoldThenLinearDecay
from ..steps.cyclegan import CycleGANStep
from . import base, evaluation
from .base import Run, assemble, run_dir_for, seed_everything
from .checks import at_least, check, fraction, one_of, positive, training
from .interface import Lesson, QualityBench, Target

NAME = "cyclegan"
GENERATORS = ("resnet", "unet")


@dataclasses.dataclass
class Config:
    """Every knob of lesson 08. Defaults: about ten minutes on a 2-core CPU.

    The learning rates decay linearly over the last `1 - decay_from` of the step budget, so
    the lesson trains for `steps` (or, with `minutes`, needs `decay_steps`). On a GPU, for
    horse2zebra: dataset="horse2zebra", image_size=128, batch_size=1, width=64, d_width=64,
    d_strided_layers=3, n_blocks=6 (9 at 256), steps=100_000 or more.
    """

    dataset: str = "shapes"  # or "sneakers_boots", or a TFDS set: "horse2zebra", ...
    steps: int | None = 2000  # about ten minutes on a 2-core CPU shared with another run
    minutes: float | None = None  # a time budget instead (then give decay_steps)
    decay_steps: int | None = None  # the steps the learning-rate schedule spans (None: steps)
    decay_from: float = 0.5  # the share of decay_steps after which the rates fall to 0
    image_size: int | None = None  # None: the data's own (32 shapes, 28 Fashion-MNIST, 256 TFDS)
    n_train: int | None = None  # training images per domain (None: all)
    batch_size: int = 8
    generator: str = "resnet"  # or "unet" (pix2pix's U-Net, instance norm, no dropout)
    width: int = 16  # G's first layer (the paper: 64)
    n_blocks: int = 6  # residual blocks of the ResNet G (the paper: 6 at 128x128, 9 at 256)
    d_width: int = 32  # D's first layer (the paper: 64)
    d_strided_layers: int = 2  # PatchGAN stride-2 layers (3: the paper's 70x70 patches)
    lr: float = 2e-4
    beta_1: float = 0.5
    cycle_weight: float = 10.0  # lambda
    identity_weight: float = 0.5  # the identity loss weighs identity_weight * lambda
    adversarial_weight: float = 1.0
    pool_size: int = 50  # generated images per domain that D sees again (0: none)
    ema_decay: float | None = None  # an EMA copy of G (A -> B) to sample from; None: the raw G
    seed: int = 0
    xla: bool = True  # measured on a CPU: about the same either way (119 vs 120 ms a step)
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500

    def __post_init__(self):
        """Refuse a value out of range (`checks`): a ConfigError naming field and range. (A
        time budget without decay_steps is refused by `lr_decay`, when the run is built.)"""
        check(self, *training(),
              positive("decay_steps", "image_size", "n_train", whole=True, optional=True),
              fraction("decay_from"), one_of("generator", GENERATORS),
              positive("width", "d_width", "d_strided_layers", whole=True),
              at_least(0, "n_blocks", "pool_size", whole=True),
              at_least(0, "cycle_weight", "identity_weight", "adversarial_weight"))

    def smoke(self) -> Config:
        """A few seconds of work, for CI: same code path, tiny budget and data."""
        return dataclasses.replace(self, steps=60, minutes=None, decay_steps=None, n_train=200,
                                   sample_every=20, checkpoint_every=30, log_every=10)


def load_split(cfg: Config, split: str, n: int | None = None) -> DomainPair:
    """Both domains of the lesson's data for `split` (`n_train` applies to train)."""
    limit = cfg.n_train if split == "train" and n is None else n
    return load_domains(cfg.dataset, split, image_size=cfg.image_size, n=limit)


def build_generator(cfg: Config, image_shape, name: str) -> keras.Model:
    """One of the two generators: the paper's ResNet G, or a U-Net whose bottleneck keeps
    at least 4x4 pixels (instance norm of a 1x1 map would erase it)."""
    if cfg.generator == "resnet":
        return build_resnet_generator(image_shape, width=cfg.width, n_blocks=cfg.n_blocks,
                                      name=name)
    if cfg.generator == "unet":
        depth = max(unet_depth(int(image_shape[0])) - 2, 1)  # halving down to 1, less two
        return build_unet_generator(image_shape, int(image_shape[-1]), cfg.width, depth=depth,
                                    norm="instance", dropout=0.0, name=name)
    raise ValueError(f"Unknown generator {cfg.generator!r}; choose one of {', '.join(GENERATORS)}.")


def lr_decay(cfg: Config) -> HoldThenLinearDecay | None:
    """The optimizers' learning-rate decay: held for `decay_from` of the steps it spans, then
    linearly to 0 (None when decay_from is 1: held throughout)."""
    total = cfg.decay_steps or cfg.steps
    if total is None:
        raise ValueError("lesson cyclegan decays its learning rates linearly over the second "
                         "half of training, so it needs to know how many steps that is: give "
                         "a step budget (--steps, e.g. 2000) or decay_steps with minutes.")
    if not 0.0 <= cfg.decay_from <= 1.0:
        raise ValueError(f"decay_from must be in [0, 1], got {cfg.decay_from}.")
    return None if cfg.decay_from == 1.0 else HoldThenLinearDecay(total, cfg.decay_from)


def domain_batches(pair: DomainPair, batch_size: int, seed: int):
    """start_step -> batches of (images of A, images of B), each domain in its own seeded
    order, so a resumed run sees what an uninterrupted one would."""

    def batches(start: int) -> tf.data.Dataset:
        return tf.data.Dataset.zip((
            data.batches(pair.a, batch_size, seed, start_step=start),
            data.batches(pair.b, batch_size, seed + 1, start_step=start)))

    return batches


def miss_score(pair: DomainPair, n: int = 500):
    """The score the run keeps its best checkpoint by: the share of `n` test images of A whose
    translation the judge does not assign to B (for shapes: or whose shape moved)."""
    if pair.judge is None or not metrics.judge_available(pair.judge):
        print(f"{pair.name} has no judge (yet), so this run keeps no best checkpoint.")
        return None
    sources = pair.a[:n]

    def score(generator) -> float:
        out = translate_images(generator, sources)
        result = domain_metrics.translation_metrics(sources, out, out, pair.judge,
                                                    pair.classes[1], pair.name == "shapes")
        return 1.0 - result.get("target_and_position_kept", result["target_share"])

    return ("a_to_b_miss", score)


def build(cfg: Config, run_dir=None, fresh: bool = False, step_class=None,
          **overrides) -> Run:
    """Data, the four networks, train step and callbacks of a CycleGAN run (`fresh`: start
    over). Snapshots translate fixed test images of A.

    overrides: generator= (A -> B), generator_ba= (B -> A), discriminator= (B's judge),
    discriminator_a= (A's), your own keras.Model in place of the lesson's; step_class: your
    subclass of CycleGANStep.
    """
    run_dir = run_dir_for(NAME, run_dir)
    decay = lr_decay(cfg)
    seed_everything(cfg.seed)
    train, test = load_split(cfg, "train"), load_split(cfg, "test", n=500)
    shape = train.image_shape

    def discriminator(name):
        return build_patchgan_discriminator(shape, None, cfg.d_width, cfg.d_strided_layers,
                                            norm="instance", name=name)

    nets = base.networks(NAME, overrides,
                         generator=lambda: build_generator(cfg, shape, "generator"),
                         generator_ba=lambda: build_generator(cfg, shape, "generator_ba"),
                         discriminator=lambda: discriminator("discriminator"),
                         discriminator_a=lambda: discriminator("discriminator_a"))
    optimizers = {k: FusedAdam(cfg.lr, beta_1=cfg.beta_1, decay=decay) for k in nets}
    step = base.step_class(NAME, step_class, CycleGANStep)(
        nets["generator"], nets["generator_ba"], nets["discriminator"], nets["discriminator_a"],
        optimizers=optimizers,
                        loss=AdversarialLoss("least_squares"), cycle_weight=cfg.cycle_weight,
                        identity_weight=cfg.identity_weight,
                        adversarial_weight=cfg.adversarial_weight, pool_size=cfg.pool_size,
                        seed=cfg.seed, jit_compile=cfg.xla)
    snapshot = data.to_model_range(test.a[:32])
    return assemble(NAME, cfg, run_dir, step, train.a, n_snapshot=len(snapshot), images=True,
                    score=miss_score(test), fresh=fresh,
                    batches=domain_batches(train, cfg.batch_size, cfg.seed),
                    snapshot_inputs=snapshot)


def generators(run: Run, direction: str | None = None):
    """(the generator of `direction`, the one back): G and F for AtoB, F and G for BtoA."""
    direction = check_direction(direction or "AtoB")
    g, f = run.generator(), run.models["generator_ba"]
    return (g, f) if direction == "AtoB" else (f, g)


def translate(run: Run, images, direction: str | None = None) -> np.ndarray:
    """Images of A translated to B (direction "AtoB", the default) or of B to A ("BtoA"):
    float [-1, 1]; input uint8 or [-1, 1], of the shape the run trained on."""
    return translate_images(generators(run, direction)[0], images)


def evaluate_generators(g: keras.Model, f: keras.Model, pair: DomainPair) -> dict:
    """Both directions' `translation_metrics` for G: A -> B and F: B -> A on `pair`, and the
    judge's share of the real images of each domain assigned to it (the ceiling)."""
    shapes = pair.name == "shapes"
    result = {}
    for direction, source, there, back, target in (("AtoB", pair.a, g, f, pair.classes[1]),
                                                   ("BtoA", pair.b, f, g, pair.classes[0])):
        out = translate_images(there, source)
        result[direction] = domain_metrics.translation_metrics(
            source, out, translate_images(back, out), pair.judge, target, shapes)
    if pair.judge is not None:
        result["real"] = {
            "a_judged_a": round(domain_metrics.target_share(pair.a, pair.judge,
                                                            pair.classes[0]), 4),
            "b_judged_b": round(domain_metrics.target_share(pair.b, pair.judge,
                                                            pair.classes[1]), 4)}
    return result


def evaluate(run: Run, split: str = "test", n: int | None = 1000) -> dict:
    """`evaluate_generators` of a run's G and F on up to `n` images per domain of `split`."""
    g, f = generators(run, "AtoB")
    return evaluate_generators(g, f, load_split(run.config, split, n=n))


def untrained_generators(cfg: Config, image_shape) -> tuple[keras.Model, keras.Model]:
    """G and F as a run of `cfg` starts them: the floor a trained run must beat."""
    seed_everything(cfg.seed)
    return (build_generator(cfg, image_shape, "generator"),
            build_generator(cfg, image_shape, "generator_ba"))


def measure(run: Run, smoke: bool = False) -> tuple[float, dict]:
    """The target's figure: of 1,000 test images per domain (100 for `smoke`), the share
    translated into the other domain with their shape kept (or, for a pair without positions
    to keep, the share in the other domain), in the worse direction."""
    found = evaluate(run, n=100 if smoke else 1000)
    key = ("target_and_position_kept" if "target_and_position_kept" in found["AtoB"]
           else "target_share")
    both = {d: found[d][key] for d in ("AtoB", "BtoA")}
    return min(both.values()), {"metric": key, **both}


def quality_bench(minutes: float = 10.0, datasets=("shapes", "sneakers_boots"), n: int = 1000,
                  seed: int = 0) -> dict:
    """Lesson 08 with its defaults on each offline pair, for a step budget that fits `minutes`
    here (timed on a short run first, since the learning rates decay over a known number of
    steps); both directions judged on n test images per domain, next to an untrained G and F
    and to the real images of each domain."""
    per_dataset = {}
    for name in datasets:
        cfg = dataclasses.replace(Config(), dataset=name, seed=seed)
        probe = build(dataclasses.replace(cfg, steps=40, log_every=10, sample_every=0,
                                          checkpoint_every=1000),
                      run_dir=evaluation.scratch_dir(f"quality-cyclegan-{name}-probe"),
                      fresh=True)
        evaluation.train_quietly(probe)
        timed = [r["seconds"] for r in probe.history]
        per_step = (timed[-1] - timed[0]) / 30  # steps 10 to 40, after compiling
        cfg = dataclasses.replace(cfg, steps=max(100, int(60 * minutes / per_step)))
        run = build(cfg, run_dir=evaluation.scratch_dir(f"quality-cyclegan-{name}"), fresh=True)
        train_minutes = evaluation.train_quietly(run) / 60
        test = load_split(cfg, "test", n=n)
        untrained = untrained_generators(cfg, test.image_shape)
        per_dataset[name] = {
            "steps": run.trainer.global_step, "train_minutes": round(train_minutes, 2),
            "seconds_per_step_probe": round(per_step, 3), "domains": list(test.names),
            **evaluate_generators(*generators(run), test),
            "untrained": evaluate_generators(*untrained, test),
        }  # fmt: skip
    return {"bench": "quality-cyclegan", "minutes": minutes, "n": n, "seed": seed,
            "generator": cfg.generator, "datasets": per_dataset}


LESSON = Lesson(
    number=8, name=NAME, title="CycleGAN: translation without pairs",
    target=Target("target and position kept (worse direction)", ">=", 0.90,
                  "set by the course for the default task, circles and squares"),
    measure=measure, unit="images of each domain (one A and one B)", inputs="image",
    datasets=(*CLASS_PAIRS, *TFDS_PAIRS), translate=translate,
    quality=QualityBench(quality_bench),
)
