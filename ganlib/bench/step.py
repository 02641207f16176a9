"""`bench step`: the speed of one train step; figures printed, never asserted.

`bench step`:    images/s of ganlib's DCGAN step vs the classic Keras loop (stacked G->D,
                 `trainable` toggled, `train_on_batch`), and the step's achieved GFLOP/s as a
                 share of a large matmul's GFLOP/s measured in the same run, in the step's
                 compute dtype (float32, or bfloat16/float16 under mixed precision); and
                 the same for the step's heaviest layer run alone, the ceiling that the
                 convolution library sets. Timings are the best of several rounds.
"""

from __future__ import annotations

import dataclasses
import json
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import data
from .. import precision as precision_policy
from ..lessons import dcgan
from ..lessons.evaluation import scratch_dir
from ..models import build_dcgan_discriminator, build_dcgan_generator


# --- FLOPs ------------------------------------------------------------------------------------
def forward_flops(model: keras.Model) -> int:
    """Multiply-adds x 2 of the Dense and convolution layers for one example."""
    return sum(layer_flops(layer) for layer in leaf_layers(model))


def leaf_layers(model: keras.Model):
    """`model`'s layers, those of the models nested in it in their place."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from leaf_layers(layer)
        else:
            yield layer


def layer_flops(layer) -> int:
    """Multiply-adds x 2 of one Dense or convolution layer for one example; 0 for others."""
    if isinstance(layer, layers.Dense):
        return int(2 * layer.kernel.shape[0] * layer.kernel.shape[1])
    if isinstance(layer, layers.Conv2DTranspose):
        h, w, cin = layer.input.shape[1:]
        k1, k2, cout, _ = layer.kernel.shape
        return int(2 * h * w * cin * cout * k1 * k2)
    if isinstance(layer, layers.Conv2D):
        h, w, cout = layer.output.shape[1:]
        k1, k2, cin, _ = layer.kernel.shape
        return int(2 * h * w * cin * cout * k1 * k2)
    return 0


def gan_step_flops(g: keras.Model, d: keras.Model) -> int:
    """Per real image: G and D on real and fake, each forward + backward (3 x forward).

    Conservative: the generator loss's backward pass through D is not counted.
    """
    return 3 * (forward_flops(g) + 2 * forward_flops(d))


def matmul_gflops(n: int = 2048, rounds: int = 5, dtype: str = "float32") -> float:
    """GFLOP/s of a large `dtype` matmul on this machine, now: the best of `rounds` rounds of
    three, after two warm-up calls (a fresh process's first matmuls run up to a quarter
    slower, which would flatter any ratio to this figure)."""
    a = tf.cast(tf.random.normal([n, n]), dtype)
    b = tf.cast(tf.random.normal([n, n]), dtype)
    mm = tf.function(tf.matmul)
    return 2 * n**3 / _best_seconds(lambda: mm(a, b).numpy(), 2, 3, rounds) / 1e9


def layer_gflops(layer, batch_size: int, rounds: int = 5, repeats: int = 5) -> float:
    """GFLOP/s of a fresh copy of `layer` alone, forward and backward (to its input and its
    weights: 3 x its forward FLOPs) on a batch of its input's shape: the most a step made of
    such layers could reach on this machine's convolution library."""
    copy = layer.__class__.from_config(layer.get_config())
    x = tf.cast(tf.random.normal([batch_size, *layer.input.shape[1:]]), copy.compute_dtype)
    dy = tf.cast(tf.random.normal([batch_size, *layer.output.shape[1:]]), copy.compute_dtype)
    copy.build(x.shape)

    @tf.function  # x and dy as arguments: as constants, TF could fold the weights' gradient
    def forward_backward(x, dy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = copy(x)
        return tape.gradient(y, [x, *copy.trainable_variables], output_gradients=dy)

    seconds = _best_seconds(lambda: [g.numpy() for g in forward_backward(x, dy)], 2, repeats,
                            rounds)
    return 3 * layer_flops(layer) * batch_size / seconds / 1e9


def heaviest_layer(*models: keras.Model):
    """The Dense or convolution layer with the most FLOPs among `models`' layers (nested
    models' included)."""
    return max((layer for model in models for layer in leaf_layers(model)), key=layer_flops)


# --- bench step -------------------------------------------------------------------------------
def _best_seconds(fn, warmup: int, repeats: int, rounds: int = 3) -> float:
    """Seconds per call of `fn`: after `warmup` calls, the best of `rounds` rounds' means of
    `repeats` calls (the least disturbed by other work on the machine, as `timeit` advises)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def classic_keras_loop(cfg: dcgan.Config, images: np.ndarray):
    """The textbook loop, made correct under Keras 3: returns a function doing one iteration.

    Keras captures a model's trainable weights when it first traces its train function, so D
    is compiled and trained while trainable, the stacked model is first trained while D is
    frozen, and the flag is toggled around every call.
    """
    shape = images.shape[1:]
    g = build_dcgan_generator(cfg.latent_dim, shape, cfg.width, seed=cfg.seed)
    d = build_dcgan_discriminator(shape, cfg.width, seed=cfg.seed)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    d.compile(keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta_1), bce)
    z = keras.Input((cfg.latent_dim,))
    gan = keras.Model(z, d(g(z)))
    gan.compile(keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta_1), bce)
    rng = np.random.default_rng(cfg.seed)
    b = cfg.batch_size
    ones, zeros = np.ones((b, 1), "f4"), np.zeros((b, 1), "f4")
    real_all = data.to_model_range(images)

    def iteration():
        real = real_all[rng.integers(0, len(real_all), b)]
        noise = rng.standard_normal((b, cfg.latent_dim)).astype("f4")
        fake = g.predict(noise, verbose=0)
        d.trainable = True
        d.train_on_batch(real, ones)
        d.train_on_batch(fake, zeros)
        d.trainable = False
        gan.train_on_batch(noise, ones)

    def check():
        """One iteration must move D in its own update and leave D alone in G's."""
        kernels = [w for w in d.weights if "kernel" in w.path]  # whatever `trainable` says
        before = [w.numpy().copy() for w in kernels]
        iteration()
        d.trainable = False
        frozen = [w.numpy().copy() for w in d.weights]
        gan.train_on_batch(rng.standard_normal((b, cfg.latent_dim)).astype("f4"), ones)
        moved = any(not np.allclose(a, w.numpy()) for a, w in zip(before, kernels))
        kept = all(np.allclose(a, w.numpy()) for a, w in zip(frozen, d.weights))
        if not (moved and kept):
            raise RuntimeError("classic loop is wrong: D must train in its step only")

    return iteration, check, g, d


def onednn_enabled() -> bool | None:
    """Whether TensorFlow runs its CPU kernels on oneDNN (None: this build cannot tell)."""
    try:
        from tensorflow.python.util import _pywrap_util_port as port
    except ImportError:  # pragma: no cover - a TensorFlow without the private module
        return None
    return bool(port.IsMklEnabled())


def bench_step(batch_size: int | None = None, repeats: int = 20, matmul_n: int = 2048,
               precision: str = "float32") -> dict:
    """Images/s of ganlib's step and of the classic loop on lesson 02's models and batch,
    and the step's GFLOP/s as a share of an n x n matmul's (`matmul_n`), both computing in
    `precision`'s compute dtype (see `ganlib.precision`)."""
    before = precision_policy.current()
    precision_policy.use(precision)  # the models below are built under it
    try:
        return _bench_step(batch_size, repeats, matmul_n, precision)
    finally:
        precision_policy.use(before)


def _bench_step(batch_size, repeats, matmul_n, precision) -> dict:
    cfg = dcgan.Config()
    if batch_size:
        cfg = dataclasses.replace(cfg, batch_size=batch_size)
    images = data.load(cfg.dataset, "train").x
    run = dcgan.build(dataclasses.replace(cfg, ema_decay=None), run_dir=scratch_dir("bench-step"))
    batches = iter(run.trainer.batches(0))
    step = run.trainer.step
    ganlib_s = _best_seconds(lambda: step(next(batches))["generator_loss"].numpy(), 5, repeats)
    # the same step on one batch already in memory: what the input pipeline costs on top
    fixed = next(batches)
    no_data_s = _best_seconds(lambda: step(fixed)["generator_loss"].numpy(), 3, repeats)
    iteration, check, g, d = classic_keras_loop(cfg, images)
    check()
    classic_s = _best_seconds(iteration, 3, repeats)
    flops = gan_step_flops(run.models["generator"], run.models["discriminator"]) * cfg.batch_size
    compute_dtype = keras.DTypePolicy(precision).compute_dtype
    peak = matmul_gflops(matmul_n, dtype=compute_dtype)
    achieved = flops / ganlib_s / 1e9
    heaviest = heaviest_layer(run.models["generator"], run.models["discriminator"])
    layer_rate = layer_gflops(heaviest, cfg.batch_size)
    return {
        "bench": "step",
        "batch_size": cfg.batch_size,
        "precision": precision,
        "xla": cfg.xla,
        "onednn": onednn_enabled(),
        "ganlib_images_per_s": round(cfg.batch_size / ganlib_s, 1),
        "classic_images_per_s": round(cfg.batch_size / classic_s, 1),
        "speedup": round(classic_s / ganlib_s, 2),
        "step_ms_with_data": round(1000 * ganlib_s, 2),
        "step_ms_without_data": round(1000 * no_data_s, 2),
        "input_overhead": round(ganlib_s / no_data_s - 1, 3),  # target: under 0.05
        "step_gflop": round(flops / 1e9, 3),
        "step_gflops_per_s": round(achieved, 1),
        "matmul_dtype": compute_dtype,
        "matmul_gflops_per_s": round(peak, 1),
        "matmul_efficiency": round(achieved / peak, 3),
        # the ceiling the convolution library sets: the step's heaviest layer run alone
        "heaviest_layer": heaviest.name,
        "heaviest_layer_gflops_per_s": round(layer_rate, 1),
        "heaviest_layer_matmul_efficiency": round(layer_rate / peak, 3),
        "step_share_of_heaviest_layer": round(achieved / layer_rate, 3),
    }


def print_json(result: dict) -> None:
    print(json.dumps(result), flush=True)
