"""Lesson 07: pix2pix, image-to-image translation with a U-Net, a PatchGAN and L1."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np

from .. import data, metrics
from ..data.paired import DIRECTIONS, check_direction, paired_batches, split_pairs
from ..losses import KINDS, AdversarialLoss
from ..models.blocks import NORMS
from ..models.patchgan import build_patchgan_discriminator, patch_size
from ..models.translate import translate as run_generator
from ..models.unet import build_unet_generator
from ..optimizers import FusedAdam
from ..pixel_metrics import pixel_metrics
from ..steps import Pix2PixStep
from . import base, evaluation
from .base import Run, assemble, run_dir_for, seed_everything
from .checks import at_least, check, fraction, one_of, positive, rule, training
from .interface import Lesson, QualityBench, Target

NAME = "pix2pix"
DATASETS = {  # dataset -> (default image side, what A and B are)
    "rendered_maps": (64, ("aerial photo", "map")),
    "maps": (256, ("aerial photo", "map")),
    "fashion_edges": (28, ("edges", "image")),
}
JUDGED = {"fashion_edges": "fashion_mnist"}  # datasets whose outputs a judge can score


@dataclasses.dataclass
class Config:
    """Every knob of lesson 07. Defaults: about ten minutes on a 2-core CPU, 64x64 maps.

    On a GPU, try image_size=256, width=64, max_width=512, d_layers=3 (the paper's 70x70
    patches) and batch_size=1 to 16: the paper's setting.
    """

    dataset: str = "rendered_maps"  # or "maps" (pix2pix's photos), "fashion_edges"
    direction: str = "AtoB"  # A -> B: aerial -> map, edges -> image; "BtoA" the other way
    image_size: int | None = None  # side of each image (None: 64 rendered, 256 maps, 28 edges)
    n_train: int | None = None  # rendered_maps only: pairs to render (None: 2000)
    minutes: float | None = 10.0
    steps: int | None = None  # a step budget instead of minutes (exactly one is used)
    batch_size: int = 16
    width: int = 32  # filters of the U-Net's and PatchGAN's first layers; the next double
    max_width: int = 256  # the U-Net's widest layers (the paper: 512)
    norm: str = "batch"  # or "instance"
    dropout: float = 0.5  # in the U-Net's three innermost decoder layers, kept on to sample
    d_layers: int = 2  # PatchGAN's stride-2 layers: 1 -> 16, 2 -> 34, 3 -> 70 pixel patches
    l1_weight: float = 100.0
    lr: float = 2e-4
    beta_1: float = 0.5
    loss: str = "non_saturating"  # or "least_squares"
    random_jitter: bool = True  # enlarge by 286/256, crop back, mirror (both images alike)
    baseline: bool = True  # also train the same U-Net on L1 alone, in the same run
    ema_decay: float | None = None  # pix2pix samples its generator as trained
    seed: int = 0
    xla: bool = False  # measured on a CPU: 192 ms a step without, 339 ms with; on a GPU, try True
    log_every: int = 50
    sample_every: int = 250
    checkpoint_every: int = 250  # a few minutes of work on a CPU

    def __post_init__(self):
        """Refuse a value out of range (`checks`): a ConfigError naming field and range."""
        check(self, one_of("dataset", DATASETS, "lesson 07 translates paired datasets"),
              one_of("direction", DIRECTIONS), *training(),
              positive("image_size", "n_train", whole=True, optional=True),
              positive("width", "max_width", "d_layers", whole=True), one_of("norm", NORMS),
              fraction("dropout", below_one=True), at_least(0, "l1_weight"),
              one_of("loss", KINDS),
              rule(lambda c: c.dataset != "fashion_edges" or c.image_size in (None, 28),
                   lambda c: f"image_size={c.image_size!r} does not fit dataset='fashion_edges':"
                             " its pairs are 28x28; leave image_size at None."))

    @property
    def side(self) -> int:
        return self.image_size or DATASETS[self.dataset][0]

    def smoke(self) -> Config:
        """A few seconds of work, for CI: same code path, tiny budget and data."""
        size = 32 if self.dataset == "rendered_maps" and self.image_size is None else None
        return dataclasses.replace(self, minutes=None, steps=40, n_train=64, batch_size=4,
                                   image_size=size or self.image_size, width=8, max_width=32,
                                   sample_every=20, checkpoint_every=20, log_every=10)


def load_pairs(cfg: Config, split: str) -> data.ArrayDataset:
    """The side-by-side pairs of a split (A | B), at the lesson's image size."""
    options = {}
    if cfg.dataset in ("rendered_maps", "maps"):
        options["size"] = cfg.side
    if cfg.dataset == "rendered_maps" and split == "train" and cfg.n_train:
        options["n"] = cfg.n_train
    return data.load(cfg.dataset, split, **options)


def names(cfg: Config) -> tuple[str, str]:
    """What the source and the target images are, e.g. ("aerial photo", "map")."""
    a, b = DATASETS[cfg.dataset][1]
    return (a, b) if cfg.direction == "AtoB" else (b, a)


def build_networks(cfg: Config, channels: tuple[int, int]):
    """(G, D, L1-only G or None) for source and target images with these channels."""
    side = cfg.side
    source_shape, target_shape = (side, side, channels[0]), (side, side, channels[1])

    def unet(name):
        return build_unet_generator(source_shape, channels[1], cfg.width, cfg.max_width,
                                    norm=cfg.norm, dropout=cfg.dropout, seed=cfg.seed,
                                    name=name)

    d = build_patchgan_discriminator(target_shape, source_shape, cfg.width, cfg.d_layers,
                                     norm=cfg.norm, seed=cfg.seed)
    g = unet("generator")
    baseline = None
    if cfg.baseline:  # the same architecture and starting weights, trained on L1 alone
        baseline = unet("l1_generator")
        baseline.set_weights(g.get_weights())
    return g, d, baseline


def score(cfg: Config, test_pairs: np.ndarray, n: int = 500):
    """The score a run keeps its best checkpoint by: judge FID of the outputs for a dataset
    with a judge, else the L1 error on `n` held-out pairs."""
    source, target = split_pairs(test_pairs[:n], cfg.direction)
    judge = JUDGED.get(cfg.dataset)
    if judge and metrics.judge_available(judge):
        return ("fid", lambda g: metrics.fid_to_test(run_generator(g, source), judge))
    return ("test_l1", lambda g: pixel_metrics(run_generator(g, source), target)["l1"])


def build(cfg: Config, run_dir=None, fresh: bool = False, step_class=None,
          **overrides) -> Run:
    """Data, models, train step and callbacks for a pix2pix run (`fresh`: start over).

    overrides: generator= (source -> target images), discriminator= (taking [source,
    image], giving a grid of patch logits), your own keras.Model in place of the lesson's
    (the L1-only baseline stays the lesson's U-Net); step_class: your subclass of Pix2PixStep.
    """
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train, test = load_pairs(cfg, "train"), load_pairs(cfg, "test")
    if train.x.shape[1] != cfg.side:
        raise ValueError(f"{cfg.dataset} pairs are {train.x.shape[1]} pixels high, not "
                         f"{cfg.side}.")
    source, target = split_pairs(test.x[:16], cfg.direction)
    g, d, baseline = build_networks(cfg, (source.shape[-1], target.shape[-1]))
    nets = base.networks(NAME, overrides, generator=lambda: g, discriminator=lambda: d)
    step = base.step_class(NAME, step_class, Pix2PixStep)(
        nets["generator"], nets["discriminator"], l1_weight=cfg.l1_weight,
        loss=AdversarialLoss(cfg.loss),
        g_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1),
        d_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1),
        baseline=baseline,
        baseline_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1) if baseline else None,
        seed=cfg.seed, jit_compile=cfg.xla)

    def batches(start):
        return paired_batches(train.x, cfg.batch_size, cfg.seed, cfg.direction,
                              cfg.random_jitter, start_step=start)

    return assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=16, images=True,
                    score=score(cfg, test.x), fresh=fresh, batches=batches,
                    snapshot_inputs=data.to_model_range(source))


def translate(run: Run, images, direction: str | None = None, baseline: bool = False):
    """The run's generator (or its L1-only baseline) applied to source images (uint8 or
    [-1, 1]); returns [-1, 1]. A run translates in the direction it was trained for."""
    cfg = run.config
    if direction is not None and check_direction(direction) != cfg.direction:
        raise ValueError(f"this run translates {cfg.direction} ({' -> '.join(names(cfg))}); "
                         f"train one with direction={direction!r} for the other way.")
    return run_generator(run.models["baseline" if baseline else "generator"], images)


def evaluate(run: Run, n: int | None = None, seed: int = 0) -> dict:
    """Scores of the pix2pix G and of the L1-only baseline on the test pairs (all, or n):
    L1, PSNR, SSIM and pixel accuracy against the targets, and for a judged dataset the judge
    FID of the outputs against the real test images, beside the real images' own FID."""
    cfg = run.config
    test = load_pairs(cfg, "test")
    source, target = split_pairs(test.x[:n], cfg.direction)
    result = {"dataset": cfg.dataset, "direction": cfg.direction, "n": len(source),
              "step": run.trainer.global_step}
    judge = JUDGED.get(cfg.dataset) if cfg.direction == "AtoB" else None
    for which in ("generator", "baseline") if "baseline" in run.models else ("generator",):
        keras.utils.set_random_seed(seed)  # dropout is G's noise: fix it for the comparison
        out = translate(run, source, baseline=which == "baseline")
        scores = pixel_metrics(out, target)
        if judge:
            scores["fid"] = metrics.fid_to_test(out, judge)
        result["pix2pix" if which == "generator" else "l1_only"] = scores
    if judge:  # real training images of the same number: the floor FID can reach
        train = data.load(judge, "train")
        result["real_fid"] = metrics.fid_to_test(train.x[:len(source)], judge)
    return result


def patch_side(cfg: Config) -> int:
    """The side of the input patch each of D's logits judges."""
    return patch_size(cfg.d_layers)


def untrained_metrics(cfg, n: int | None = None) -> dict:
    """Pixel scores of lesson 07's U-Net as `cfg` builds it, before any training, on the test
    pairs (all, or n): the floor a trained run must beat."""
    source, target = split_pairs(load_pairs(cfg, "test").x[:n], cfg.direction)
    untrained = build_networks(cfg, (source.shape[-1], target.shape[-1]))[0]
    return pixel_metrics(run_generator(untrained, source), target)


_FLOORS: dict = {}  # (config as JSON, n) -> an untrained U-Net's pixel accuracy


def _untrained_pixel_accuracy(cfg: Config, n: int | None) -> float:
    key = (json.dumps(dataclasses.asdict(cfg)), n)
    if key not in _FLOORS:
        _FLOORS[key] = untrained_metrics(cfg, n)["pixel_accuracy"]
    return _FLOORS[key]


def measure(run: Run, smoke: bool = False) -> tuple[float, dict]:
    """The target's figure: the pixel accuracy of the run's U-Net on the test pairs (50 for
    `smoke`) minus an untrained U-Net's (computed once per configuration)."""
    cfg, n = run.config, 50 if smoke else None
    floor = _untrained_pixel_accuracy(cfg, n)
    ours = evaluate(run, n=n, seed=cfg.seed)["pix2pix"]["pixel_accuracy"]
    return ours - floor, {"pixel_accuracy": ours, "untrained_pixel_accuracy": floor}


def quality_bench(minutes: float = 10.0, datasets=("rendered_maps", "fashion_edges"),
                  seed: int = 0) -> dict:
    """Lesson 07 trained `minutes` with its defaults on each offline task; the pix2pix U-Net
    and the L1-only U-Net of the same run scored on every test pair (judge FID too for the
    edges), next to an untrained U-Net."""
    per_dataset = {}
    for name in datasets:
        cfg = dataclasses.replace(Config(), dataset=name, minutes=minutes, steps=None,
                                  seed=seed)
        run = build(cfg, run_dir=evaluation.scratch_dir(f"quality-pix2pix-{name}"), fresh=True)
        train_seconds = evaluation.train_quietly(run)
        result = evaluate(run, seed=seed)
        result["untrained"] = untrained_metrics(cfg)
        if "fid" in result["pix2pix"]:
            result["fid_ratio"] = round(result["pix2pix"]["fid"] / result["l1_only"]["fid"], 4)
        result["l1_ratio"] = round(result["pix2pix"]["l1"] / result["l1_only"]["l1"], 4)
        per_dataset[name] = {"train_seconds": round(train_seconds, 1), **result}
    return {"bench": "quality-pix2pix", "minutes": minutes, "seed": seed,
            "datasets": per_dataset}


LESSON = Lesson(
    number=7, name=NAME, title="pix2pix: image-to-image translation",
    target=Target("pixel accuracy gain over untrained U-Net", ">=", 0.20,
                  "set by the course for the default task, rendered maps"),
    measure=measure, unit="training pairs (pix2pix G, L1-only U-Net and D)", inputs="image",
    datasets=tuple(DATASETS), translate=translate, quality=QualityBench(quality_bench),
)
