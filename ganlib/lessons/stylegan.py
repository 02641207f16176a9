"""Lesson 11: a small style-based generator (StyleGAN2-style) on Fashion-MNIST at 32 x 32.

The 28 x 28 images are padded with 2 pixels of background on each side (the synthesis
network doubles 4 -> 8 -> 16 -> 32). For the judge, G's images are cropped back to the
central 28 x 28, so the judge FID is the same measurement as lesson 02's.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from .. import data, metrics
from ..losses import KINDS, AdversarialLoss
from ..models import build_dcgan_discriminator
from ..models import stylegan as sg
from ..models.blocks import NORMS
from ..optimizers import FusedAdam
from ..steps.stylegan import StyleGANStep
from . import base, dcgan, evaluation
from .base import Run, assemble, run_dir_for, seed_everything
from .checks import at_least, check, fraction, one_of, positive, rule, training
from .interface import Lesson, QualityBench, Target

NAME = "stylegan"
PAD = 2  # pixels of background added on each side: 28 x 28 -> 32 x 32


@dataclasses.dataclass
class Config:
    """Every knob of lesson 11. Defaults: about ten minutes on a 2-core CPU.

    On a GPU, try batch_size=64, width=64, max_width=256, latent_dim=w_dim=128 and
    minutes=5.
    """

    dataset: str = "fashion_mnist"  # or "mnist": any 28 x 28 dataset with a judge
    minutes: float | None = 10.0
    steps: int | None = None  # a step budget instead of minutes (exactly one is used)
    batch_size: int = 32
    latent_dim: int = 64  # size of z
    w_dim: int = 64  # size of w, the mapping network's output
    mapping_layers: int = 4  # the paper: 8
    mapping_lr_mul: float = 0.01  # the mapping network learns this much more slowly (paper)
    width: int = 16  # G's channels at 32 x 32; they double per halving, up to max_width
    max_width: int = 128
    d_width: int = 32  # D: lesson 02's discriminator, at 32 x 32
    d_norm: str = "batch"  # D's normalisation; with r1_gamma > 0 use "layer" or "none"
    lr: float = 2e-4  # Adam, both networks (lesson 02's values)
    beta_1: float = 0.5
    loss: str = "non_saturating"  # or "least_squares", "hinge", ...
    mixing_prob: float = 0.9  # share of fakes made from two ws (style mixing regularisation)
    r1_gamma: float = 0.0  # R1 penalty on D's gradient at real images; 0: none
    w_avg_beta: float = 0.995  # decay of the average w that truncation pulls towards
    ema_decay: float | None = 0.999  # None: sample from the raw generator
    seed: int = 0
    xla: bool = False  # measured: XLA makes this step slower on a CPU; try True on a GPU
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000

    def __post_init__(self):
        """Refuse a value out of range (`checks`): a ConfigError naming field and range."""
        check(self, *training(),
              positive("latent_dim", "w_dim", "mapping_layers", "width", "max_width", "d_width",
                       whole=True),
              rule(lambda c: c.max_width >= c.width,
                   lambda c: f"max_width={c.max_width!r} is below width={c.width!r}; it must be "
                             "at least width."),
              positive("mapping_lr_mul"), one_of("d_norm", NORMS), one_of("loss", KINDS),
              fraction("mixing_prob"), at_least(0, "r1_gamma"),
              fraction("w_avg_beta", below_one=True))

    def smoke(self) -> Config:
        """A few seconds of work, for CI: same code path, tiny networks and budget. 300 steps:
        at 100 the judge FID was no better than the untrained G's (docs/experiments.md,
        lesson 11)."""
        return dataclasses.replace(self, minutes=None, steps=300, batch_size=16, latent_dim=16,
                                   w_dim=16, mapping_layers=2, width=8, max_width=16,
                                   d_width=8, sample_every=50, checkpoint_every=50,
                                   log_every=10, ema_decay=0.9)


# --- the data and the judge ---------------------------------------------------------------
def pad(images: np.ndarray) -> np.ndarray:
    """uint8 N x 28 x 28 x C -> N x 32 x 32 x C, with background (0, i.e. -1) around."""
    return np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))


def crop(images: np.ndarray) -> np.ndarray:
    """G's N x 32 x 32 x C images -> the central N x 28 x 28 x C, what the judge takes."""
    return np.asarray(images)[:, PAD:-PAD, PAD:-PAD]


def build_generator(cfg: Config, image_shape=(32, 32, 1)) -> keras.Model:
    """G as the lesson builds it (the notebook's untrained baseline uses this too)."""
    return sg.build_stylegan_generator(cfg.latent_dim, cfg.w_dim, image_shape, cfg.width,
                                       cfg.max_width, cfg.mapping_layers, cfg.mapping_lr_mul,
                                       seed=cfg.seed)


def build(cfg: Config, run_dir=None, fresh: bool = False, step_class=None,
          **overrides) -> Run:
    """Data, models, train step and callbacks for a StyleGAN run (`fresh`: start over).

    overrides: generator=, discriminator= (your own keras.Model in place of the lesson's; a
    generator of your own keeps StyleGAN's `mapping` and `synthesis` parts, which the step
    uses); step_class: your subclass of StyleGANStep.
    """
    run_dir = run_dir_for(NAME, run_dir)
    seed_everything(cfg.seed)
    train = data.load(cfg.dataset, "train")
    images = pad(train.x)
    image_shape = images.shape[1:]
    nets = base.networks(
        NAME, overrides, generator=lambda: build_generator(cfg, image_shape),
        discriminator=lambda: build_dcgan_discriminator(image_shape, cfg.d_width, seed=cfg.seed,
                                                        norm=cfg.d_norm),
    )  # fmt: skip
    step = base.step_class(NAME, step_class, StyleGANStep)(
        nets["generator"], nets["discriminator"], g_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1),
        d_optimizer=FusedAdam(cfg.lr, beta_1=cfg.beta_1),
        loss=AdversarialLoss(cfg.loss), seed=cfg.seed, jit_compile=cfg.xla,
        mixing_prob=cfg.mixing_prob, r1_gamma=cfg.r1_gamma, w_avg_beta=cfg.w_avg_beta)
    return assemble(NAME, cfg, run_dir, step, images, n_snapshot=64, images=True,
                    score=dcgan.fid_score(cfg.dataset, crop=crop), fresh=fresh)


# --- what the notebook shows ---------------------------------------------------------------
def latents(run: Run, n: int, seed: int = 0) -> np.ndarray:
    """n latents z drawn from `seed`."""
    return np.random.default_rng(seed).standard_normal((n, run.config.latent_dim)).astype("f4")


def sample(run: Run, n: int, psi: float = 1.0, seed: int = 0, noise_seed: int | None = None,
           ema: bool = True) -> np.ndarray:
    """n images (32 x 32, in [-1, 1]) of the run's generator, truncated by psi; with G's fixed
    noise maps, or with fresh ones drawn from noise_seed."""
    g = run.generator(ema)
    noise = None if noise_seed is None else sg.random_noise(g, n, noise_seed)
    return sg.synthesize(g, latents(run, n, seed), psi=psi, noise=noise)


def coarse_fine(run: Run) -> tuple[range, range]:
    """The layers (indices into ws) of the coarse styles (4 and 8 pixels) and the fine ones
    (16 and 32)."""
    count = sg.num_ws(int(run.generator().output.shape[1]))
    return range(0, count // 2), range(count // 2, count)


def style_mix(run: Run, rows: int = 4, cols: int = 6, layers_: range | None = None,
              psi: float = 1.0, seed: int = 0) -> dict:
    """A style-mixing grid: {"a": rows images, "b": cols images, "mixed": rows x cols images}.

    Cell (i, j) is source A_i with the layers in `layers_` (default: the coarse ones) taking
    source B_j's w. Every image uses G's fixed noise maps, so only the styles differ."""
    g = run.generator()
    layers_ = coarse_fine(run)[0] if layers_ is None else layers_
    ws_a = sg.ws_of(g, latents(run, rows, seed))
    ws_b = sg.ws_of(g, latents(run, cols, seed + 1))
    mixed = np.concatenate([sg.mix_ws(np.repeat(ws_a[i:i + 1], cols, 0), ws_b, layers_)
                            for i in range(rows)])
    out = sg.synthesize(g, ws=np.concatenate([ws_a, ws_b, mixed]), psi=psi)
    return {"a": out[:rows], "b": out[rows:rows + cols],
            "mixed": out[rows + cols:].reshape(rows, cols, *out.shape[1:])}


def resample_noise(run: Run, n_images: int = 4, n_noise: int = 16, seed: int = 0,
                   psi: float = 1.0) -> dict:
    """The same w under n_noise fresh draws of the per-pixel noise, for each of n_images
    latents: {"images": n_images x n_noise images, "std": n_images x H x W x C, the per-pixel
    standard deviation over the draws (where noise changes the image)}."""
    g = run.generator()
    ws = np.repeat(sg.ws_of(g, latents(run, n_images, seed)), n_noise, axis=0)
    noise = sg.random_noise(g, len(ws), seed + 7)
    out = sg.synthesize(g, ws=ws, psi=psi, noise=noise)
    out = out.reshape(n_images, n_noise, *out.shape[1:])
    return {"images": out, "std": out.std(axis=1)}


def truncation_sweep(run: Run, psis=(1.0, 0.7, 0.5, 0.0), n: int = 8, seed: int = 0):
    """len(psis) x n images: the same n latents at each psi (0: every image is the average)."""
    return np.stack([sample(run, n, psi=psi, seed=seed) for psi in psis])


def evaluate(run: Run, n: int = 10_000, seed: int = 3, psis=(1.0, 0.7)) -> dict:
    """Judge metrics (FID, KID, class-share entropy, largest class share) of n cropped
    samples at each psi, and of n real training images: the floor."""
    results = {"real (train)": metrics.real_reference(run.config.dataset, n)}
    for psi in psis:
        images = crop(sample(run, n, psi=psi, seed=seed))
        results[f"psi={psi}"] = metrics.image_metrics(images, run.config.dataset)
    return results


def plot_style_mix(grid: dict, title: str = ""):
    """Show a `style_mix` grid: sources B along the top, sources A down the left."""
    import matplotlib.pyplot as plt

    rows, cols = grid["mixed"].shape[:2]
    fig, axes = plt.subplots(rows + 1, cols + 1, figsize=(1.2 * (cols + 1), 1.2 * (rows + 1)))
    show = lambda ax, image: ax.imshow(data.to_uint8(image)[..., 0], cmap="gray", vmin=0,
                                       vmax=255)
    for ax in axes.flat:
        ax.axis("off")
    for j in range(cols):
        show(axes[0, j + 1], grid["b"][j])
    for i in range(rows):
        show(axes[i + 1, 0], grid["a"][i])
        for j in range(cols):
            show(axes[i + 1, j + 1], grid["mixed"][i, j])
    axes[0, 0].text(0.5, 0.5, "A \\ B", ha="center", va="center", fontsize=12)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def measure(run: Run, smoke: bool = False) -> tuple[float, dict]:
    """The target's figure: judge FID of 10,000 samples (1,000 for `smoke`) cropped to the
    dataset's 28 x 28."""
    return evaluation.unconditional_fid(run, smoke, crop=crop)


def quality_bench(minutes: float = 10.0, n: int = 10_000, seed: int = 0) -> dict:
    """Lesson 11 trained `minutes` with its defaults; judge FID of n samples cropped to 28 x 28
    at psi 1 and 0.7 (`evaluate`), next to the real-data floor and lesson 02's."""
    cfg = dataclasses.replace(Config(), minutes=minutes, steps=None, seed=seed)
    run = build(cfg, run_dir=evaluation.scratch_dir("quality-stylegan"), fresh=True)
    evaluation.train_quietly(run)
    found = evaluate(run, n=n, seed=seed + 3, psis=(1.0, 0.7))
    ours, truncated, real = found["psi=1.0"], found["psi=0.7"], found["real (train)"]
    return {
        "bench": "quality-stylegan", "minutes": minutes, "dataset": cfg.dataset, "n": n,
        "seed": seed, "steps": run.trainer.global_step, "fid": ours["fid"],
        "fid_psi_0.7": truncated["fid"], "class_entropy_bits": ours["class_entropy_bits"],
        "max_class_share": ours["max_class_share"], "real_fid_floor": real["fid"],
        "lesson_02_fid": dcgan.TEN_MINUTE_FID,
    }  # fmt: skip


LESSON = Lesson(
    number=11, name=NAME, title="StyleGAN",
    target=Target("judge FID (10k, cropped to 28x28)", "<=", 10.0,
                  "set here for lesson 11's default run; the course states none"),
    measure=measure, unit="real images (padded to 32 x 32)",
    datasets=("fashion_mnist", "mnist"), crop=crop, quality=QualityBench(quality_bench),
)
