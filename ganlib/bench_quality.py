"""Quality benchmarks (`bench quality LESSON`): each lesson's default run trained here and
scored on its metric, next to its references; figures printed, never asserted.

dcgan: lesson 02 against a DCGAN written as in the TensorFlow tutorial, same budget; cgan:
lesson 03's intended-class share and per-class FID/KID next to real signs; acgan: lesson 05's
intended-class share, within-class coverage, and FID against lesson 02's; infogan: lesson 04's
unsupervised accuracy over seeds; sgan: lesson 06's test accuracy against the labels-only
baseline over label draws; losses, pix2pix, cyclegan, srgan, stylegan: lessons 07-11.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from . import data, metrics
from .bench import scratch_dir
from .lessons import base, cgan, dcgan, infogan, sgan


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


def _budget(minutes: float | None, steps: int | None) -> dict:
    """The Config changes for a quality bench's training budget: `steps` if given (the same
    training on every machine), else `minutes` if given, else none (the lesson's own)."""
    if steps is not None:
        return {"minutes": None, "steps": steps}
    return {} if minutes is None else {"minutes": minutes, "steps": None}


def _stderr_points(values: list[float]) -> float | None:
    """The standard error of the mean of `values` (fractions), in points; None for one value:
    how far the mean over these label draws may sit from the mean over many more."""
    if len(values) < 2:
        return None
    return round(100 * float(np.std(values, ddof=1)) / np.sqrt(len(values)), 2)


def _train(run) -> float:
    """Train a built run for its configured budget without a progress bar; the seconds it
    took (compiling, checkpoints and in-training scores included)."""
    run.trainer.progress = False
    started = time.perf_counter()
    base.fit(run)
    return time.perf_counter() - started


def sample_unconditional(g: keras.Model, n: int, seed: int) -> np.ndarray:
    """n images from an unconditional generator `g`, from seeded noise."""
    z = np.random.default_rng(seed).standard_normal((n, g.inputs[0].shape[-1])).astype("f4")
    return g.predict(z, batch_size=500, verbose=0)


def _lesson02(minutes: float, n: int, seed: int) -> tuple[base.Run, dict]:
    """Lesson 02's default run trained `minutes` here, and the judge metrics of n samples."""
    cfg = dataclasses.replace(dcgan.Config(), minutes=minutes, steps=None, seed=seed)
    run = dcgan.build(cfg, run_dir=scratch_dir("quality-dcgan"), fresh=True)
    _train(run)
    samples = sample_unconditional(run.generator(), n, seed + 1)
    return run, metrics.image_metrics(samples, cfg.dataset)


def bench_quality_dcgan(minutes: float = 10.0, n: int = 10_000, seed: int = 0) -> dict:
    """Lesson 02 and the tutorial DCGAN, each trained `minutes` here, judged on n samples."""
    run, ours = _lesson02(minutes, n, seed)
    cfg = run.config
    images = data.load(cfg.dataset, "train").x
    tutorial_g, tutorial_steps = train_tutorial_dcgan(images, minutes, seed)
    theirs = metrics.image_metrics(sample_unconditional(tutorial_g, n, seed + 1), cfg.dataset)
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


def bench_quality_cgan(minutes: float = 10.0, n_per_class: int = 1000, seed: int = 0) -> dict:
    """Lesson 03 trained `minutes` with its defaults; the judge's verdict on n signs per class
    from the EMA generator, next to real training signs and an untrained G."""
    from .models.conditional import build_conditional_generator, generate

    cfg = dataclasses.replace(cgan.Config(), minutes=minutes, steps=None, seed=seed)
    run = cgan.build(cfg, run_dir=scratch_dir("quality-cgan"), fresh=True)
    train_seconds = _train(run)
    k = len(cgan.CLASS_NAMES)
    labels = np.arange(k * n_per_class) % k
    ours = metrics.conditional_metrics(generate(run.generator(), labels, seed=seed + 1), labels,
                                       cfg.dataset)
    untrained = build_conditional_generator(cfg.latent_dim, k, run.generator().output.shape[1:],
                                            cfg.width, cfg.embed_dim, seed=cfg.seed)
    before = metrics.conditional_metrics(generate(untrained, labels, seed=seed + 1), labels,
                                         cfg.dataset)
    real = metrics.conditional_reference(cfg.dataset, n_per_class)

    def brief(result):
        return {name: {key: round(v[key], 4) for key in ("intended_share", "fid", "kid")}
                for name, v in result["per_class"].items()}

    return {
        "bench": "quality-cgan", "minutes": minutes, "dataset": cfg.dataset,
        "n_per_class": n_per_class, "steps": run.trainer.global_step,
        "train_seconds": round(train_seconds, 1),
        "intended_share": ours["intended_share"], "per_class": brief(ours),
        "untrained_intended_share": before["intended_share"],
        "untrained_per_class": brief(before),
        "real_intended_share": real["intended_share"], "real_per_class": brief(real),
        "judge_test_accuracy": metrics.judge_info(cfg.dataset)["test_accuracy"],
    }  # fmt: skip


def bench_quality_acgan(minutes: float = 10.0, n_per_class: int = 1000, seed: int = 0) -> dict:
    """Lesson 05 and lesson 02's DCGAN, each trained `minutes` here with its defaults: of
    n_per_class images per class from AC-GAN's EMA generator, the share the judge assigns to
    the class asked for (ceiling: its accuracy on the real test images), per-class FID, and
    within-class coverage next to real training images' and a class collapsed to 30 images';
    the judge FID of all of them next to lesson 02's on as many samples."""
    from .lessons import acgan
    from .models.conditional import generate

    cfg = dataclasses.replace(acgan.Config(), minutes=minutes, steps=None, seed=seed)
    run = acgan.build(cfg, run_dir=scratch_dir("quality-acgan"), fresh=True)
    train_seconds = _train(run)
    train = acgan.load_split(cfg, "train")
    k = train.num_classes
    labels = np.arange(k * n_per_class) % k
    images = generate(run.generator(), labels, seed=seed + 1)
    ours = metrics.conditional_metrics(images, labels, cfg.dataset, coverage=True)
    real_idx = np.concatenate([np.flatnonzero(train.y == c)[:n_per_class] for c in range(k)])
    real_x, real_y = train.x[real_idx], train.y[real_idx]
    real = metrics.conditional_metrics(real_x, real_y, cfg.dataset, coverage=True)
    thirty = metrics.collapsed_coverage(real_x, real_y, cfg.dataset, 30)
    overall, real_overall = (metrics.image_metrics(x, cfg.dataset) for x in (images, real_x))
    dcgan_run, lesson02 = _lesson02(minutes, k * n_per_class, seed)
    per_class = {name: {**v, "coverage": ours["coverage"][name],
                        "real_coverage": real["coverage"][name],
                        "coverage_30_per_class": thirty[name]}
                 for name, v in ours["per_class"].items()}
    return {
        "bench": "quality-acgan", "minutes": minutes, "dataset": cfg.dataset,
        "n_per_class": n_per_class, "steps": run.trainer.global_step,
        "train_seconds": round(train_seconds, 1),
        "intended_share": ours["intended_share"],
        "judge_test_accuracy": metrics.judge_info(cfg.dataset)["test_accuracy"],
        "fid": overall["fid"], "class_entropy_bits": overall["class_entropy_bits"],
        "lesson02_steps": dcgan_run.trainer.global_step, "lesson02_fid": lesson02["fid"],
        "real_fid_floor": real_overall["fid"],
        "narrow_classes": metrics.narrow_classes(ours["coverage"], real["coverage"], thirty),
        "mean_coverage_ratio": round(float(np.mean(
            [ours["coverage"][c] / real["coverage"][c] for c in ours["coverage"]])), 4),
        "per_class": per_class,
    }  # fmt: skip


def bench_quality_infogan(minutes: float = 10.0, seeds: int = 3, n: int = 10_000,
                          steps: int | None = None, first_seed: int = 0) -> dict:
    """Lesson 04 trained `minutes` (or `steps`, the same on every machine) with `seeds` seeds
    from first_seed on: accuracy of Q's categories on the test images (Hungarian-matched), per
    seed and the median; judge metrics of n samples per seed; k-means on the test images'
    pixels as the reference an InfoGAN should beat."""
    from .models.infogan import draw_codes

    budget = _budget(minutes, steps)
    per_seed = []
    for seed in range(first_seed, first_seed + seeds):
        cfg = dataclasses.replace(infogan.Config(), **budget, seed=seed)
        run = infogan.build(cfg, run_dir=scratch_dir(f"quality-infogan-{seed}"), fresh=True)
        _train(run)
        g = run.generator()
        codes = draw_codes(g, n, seed + 1)
        samples = metrics.category_metrics(g.predict(codes, batch_size=500, verbose=0),
                                           codes[1], cfg.dataset)
        per_seed.append({
            "seed": seed, "steps": run.trainer.global_step,
            "test_accuracy": infogan.cluster_accuracy(run)["accuracy"],
            "sample_category_accuracy": samples["category_accuracy"], "fid": samples["fid"],
        })  # fmt: skip
    test = data.load(cfg.dataset, "test")
    return {
        "bench": "quality-infogan", "minutes": cfg.minutes, "steps": cfg.steps,
        "dataset": cfg.dataset, "n": n,
        "seeds": per_seed,
        "median_test_accuracy": float(np.median([s["test_accuracy"] for s in per_seed])),
        "kmeans_pixels_test_accuracy": metrics.kmeans_pixel_accuracy(test.x, test.y),
    }  # fmt: skip


def bench_quality_sgan(minutes: float | None = None, draws: int = 3, seed: int = 0,
                       steps: int | None = None, first_draw: int = 0) -> dict:
    """Lesson 06 trained on each of `draws` label draws (label_seed first_draw, first_draw + 1,
    ...) for its default budget (a step budget), or `steps` or `minutes` if given (minutes: at
    a constant learning rate, as its decay needs a step budget): test accuracy of the GAN's
    classifier and of the labels-only baseline, per draw and mean, and the standard error of
    the mean gain; with weight averages (the default), also the latest weights', and the gain
    over the better of the baseline's two on each draw."""
    per_draw = []
    budget = _budget(minutes, steps)
    if budget.get("minutes") is not None:
        budget["lr_decay_from"] = None
    for label_seed in range(first_draw, first_draw + draws):
        cfg = dataclasses.replace(sgan.Config(), **budget, seed=seed, label_seed=label_seed)
        run = sgan.build(cfg, run_dir=scratch_dir(f"quality-sgan-{label_seed}"), fresh=True)
        train_minutes = _train(run) / 60
        accuracy = sgan.test_accuracy(run)
        per_draw.append({"label_seed": label_seed, "steps": run.trainer.global_step,
                         "train_minutes": round(train_minutes, 2), **accuracy,
                         **sgan.gains(accuracy)})
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
        "gain_stderr_points": _stderr_points([d["gain"] for d in per_draw]),
    }  # fmt: skip
    return result


def bench_quality_losses(minutes: float = 2.0, seeds: int = 3, n: int = 5000,
                         first_seed: int = 0) -> dict:
    """Lesson 09: each loss variant trained `minutes` of training time per seed (`seeds` of
    them from first_seed on), judge FID over training time (1000 samples, 6 times) and of n
    samples at the end; per variant the median and range over seeds."""
    from .lessons import loss_zoo

    rows = loss_zoo.compare(seeds=range(first_seed, first_seed + seeds),
                            out_dir=scratch_dir("quality-losses"), minutes=minutes, steps=None,
                            n_final=n)
    return {"bench": "quality-losses", "minutes_per_run": minutes, "n": n,
            "dataset": loss_zoo.Config().dataset,
            "summary": loss_zoo.summary(rows), "runs": rows,
            "real_fid_floor": metrics.real_reference(loss_zoo.Config().dataset, n)["fid"]}


def untrained_pix2pix_metrics(cfg, n: int | None = None) -> dict:
    """Pixel scores of lesson 07's U-Net as `cfg` builds it, before any training, on the test
    pairs (all, or n): the floor a trained run must beat."""
    from .data.paired import split_pairs
    from .lessons import pix2pix
    from .pixel_metrics import pixel_metrics

    source, target = split_pairs(pix2pix.load_pairs(cfg, "test").x[:n], cfg.direction)
    untrained = pix2pix.build_networks(cfg, (source.shape[-1], target.shape[-1]))[0]
    return pixel_metrics(pix2pix.run_generator(untrained, source), target)


def bench_quality_pix2pix(minutes: float = 10.0, datasets=("rendered_maps", "fashion_edges"),
                          seed: int = 0) -> dict:
    """Lesson 07 trained `minutes` with its defaults on each offline task; the pix2pix U-Net
    and the L1-only U-Net of the same run scored on every test pair (judge FID too for the
    edges), next to an untrained U-Net."""
    from .lessons import pix2pix

    per_dataset = {}
    for name in datasets:
        cfg = dataclasses.replace(pix2pix.Config(), dataset=name, minutes=minutes, steps=None,
                                  seed=seed)
        run = pix2pix.build(cfg, run_dir=scratch_dir(f"quality-pix2pix-{name}"), fresh=True)
        train_seconds = _train(run)
        result = pix2pix.evaluate(run, seed=seed)
        result["untrained"] = untrained_pix2pix_metrics(cfg)
        if "fid" in result["pix2pix"]:
            result["fid_ratio"] = round(result["pix2pix"]["fid"] / result["l1_only"]["fid"], 4)
        result["l1_ratio"] = round(result["pix2pix"]["l1"] / result["l1_only"]["l1"], 4)
        per_dataset[name] = {"train_seconds": round(train_seconds, 1), **result}
    return {"bench": "quality-pix2pix", "minutes": minutes, "seed": seed,
            "datasets": per_dataset}


def bench_quality_cyclegan(minutes: float = 10.0, datasets=("shapes", "sneakers_boots"),
                           n: int = 1000, seed: int = 0) -> dict:
    """Lesson 08 with its defaults on each offline pair, for a step budget that fits `minutes`
    here (timed on a short run first, since the learning rates decay over a known number of
    steps); both directions judged on n test images per domain, next to an untrained G and F
    and to the real images of each domain."""
    from .lessons import cyclegan

    per_dataset = {}
    for name in datasets:
        cfg = dataclasses.replace(cyclegan.Config(), dataset=name, seed=seed)
        probe = cyclegan.build(dataclasses.replace(cfg, steps=40, log_every=10,
                                                   sample_every=0, checkpoint_every=1000),
                               run_dir=scratch_dir(f"quality-cyclegan-{name}-probe"), fresh=True)
        _train(probe)
        timed = [r["seconds"] for r in probe.history]
        per_step = (timed[-1] - timed[0]) / 30  # steps 10 to 40, after compiling
        cfg = dataclasses.replace(cfg, steps=max(100, int(60 * minutes / per_step)))
        run = cyclegan.build(cfg, run_dir=scratch_dir(f"quality-cyclegan-{name}"), fresh=True)
        train_minutes = _train(run) / 60
        test = cyclegan.load_split(cfg, "test", n=n)
        untrained = cyclegan.untrained_generators(cfg, test.image_shape)
        per_dataset[name] = {
            "steps": run.trainer.global_step, "train_minutes": round(train_minutes, 2),
            "seconds_per_step_probe": round(per_step, 3), "domains": list(test.names),
            **cyclegan.evaluate_generators(*cyclegan.generators(run), test),
            "untrained": cyclegan.evaluate_generators(*untrained, test),
        }  # fmt: skip
    return {"bench": "quality-cyclegan", "minutes": minutes, "n": n, "seed": seed,
            "generator": cfg.generator, "datasets": per_dataset}


def bench_quality_srgan(minutes: float = 5.0, seed: int = 0) -> dict:
    """Lesson 10 trained `minutes` with its defaults: bicubic, the MSE-only generator and SRGAN
    scored on the 5,000 images of the first half of the test split (`srgan.evaluate`)."""
    from .lessons import srgan

    cfg = dataclasses.replace(srgan.Config(), minutes=minutes, steps=None, seed=seed)
    run = srgan.build(cfg, run_dir=scratch_dir("quality-srgan"), fresh=True)
    train_seconds = _train(run)
    result = srgan.evaluate(run)
    result["fid_ratio"] = round(result["srgan"]["fid"] / result["mse"]["fid"], 4)
    return {"bench": "quality-srgan", "minutes": minutes, "seed": seed,
            "train_seconds": round(train_seconds, 1), **result}


def bench_quality_stylegan(minutes: float = 10.0, n: int = 10_000, seed: int = 0) -> dict:
    """Lesson 11 trained `minutes` with its defaults; judge FID of n samples cropped to 28 x 28
    at psi 1 and 0.7 (`stylegan.evaluate`), next to the real-data floor and lesson 02's."""
    from .lessons import stylegan

    cfg = dataclasses.replace(stylegan.Config(), minutes=minutes, steps=None, seed=seed)
    run = stylegan.build(cfg, run_dir=scratch_dir("quality-stylegan"), fresh=True)
    _train(run)
    found = stylegan.evaluate(run, n=n, seed=seed + 3, psis=(1.0, 0.7))
    ours, truncated, real = found["psi=1.0"], found["psi=0.7"], found["real (train)"]
    return {
        "bench": "quality-stylegan", "minutes": minutes, "dataset": cfg.dataset, "n": n,
        "seed": seed, "steps": run.trainer.global_step, "fid": ours["fid"],
        "fid_psi_0.7": truncated["fid"], "class_entropy_bits": ours["class_entropy_bits"],
        "max_class_share": ours["max_class_share"], "real_fid_floor": real["fid"],
        "lesson_02_fid": dcgan.TEN_MINUTE_FID,
    }  # fmt: skip
