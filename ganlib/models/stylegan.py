"""A small style-based generator (StyleGAN2's synthesis, at 32 x 32) and its custom layers.

z -> mapping network (pixel norm, an MLP) -> w, one w per layer (`num_ws` of them, so
layers can take different ws: style mixing) -> synthesis network: a learned constant 4 x 4,
then per resolution (4, 8, 16, 32) modulated convolutions, each followed by per-pixel noise
with a learned per-channel strength, and a 1 x 1 toRGB whose outputs are upsampled and
summed (StyleGAN2's skip generator, its alternative to progressive growing).

Resolution block i (0: 4 x 4, ..., 3: 32 x 32) takes ws[2i] and ws[2i + 1]: the first
conv of the block takes ws[2i], its second conv and its toRGB take ws[2i + 1]. So ws[0:4]
are the coarse styles (4 and 8 pixels: pose, shape) and ws[4:8] the fine ones (16 and 32).

`build_stylegan_generator` returns G: z -> image, a keras.Model whose layers "mapping",
"truncation" and "synthesis" the train step and the lesson call directly. G itself uses
each noise layer's fixed noise map (StyleGAN2's `noise_mode="const"`), so G(z) is a
deterministic function of z; training draws fresh noise per example and passes it to the
synthesis network.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from .blocks import image_output, layer_seeds

SMALLEST = 4


@keras.saving.register_keras_serializable(package="ganlib")
class PixelNorm(layers.Layer):
    """Scale each vector to unit root-mean-square (what StyleGAN does to z)."""

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + 1e-8)


@keras.saving.register_keras_serializable(package="ganlib")
class ScaledDense(layers.Dense):
    """A Dense layer with StyleGAN's equalised learning rate and a learning-rate multiplier:
    the kernel is stored as N(0, 1) / lr_mul and scaled by lr_mul / sqrt(fan_in) when used,
    so Adam's steps on it are lr_mul times as large as on a plain Dense (the mapping network
    learns 100 times more slowly than the rest, as in the paper). gain: sqrt(2) before a
    LeakyReLU keeps the activations' scale through the layers (He initialisation)."""

    def __init__(self, units, lr_mul: float = 1.0, bias_init: float = 0.0, gain: float = 1.0,
                 seed: int | None = None, **kwargs):
        kwargs.pop("kernel_initializer", None)
        kwargs.pop("bias_initializer", None)
        super().__init__(units, kernel_initializer=keras.initializers.RandomNormal(
            stddev=1.0 / lr_mul, seed=seed), bias_initializer=keras.initializers.Constant(
                bias_init / lr_mul), **kwargs)
        self.seed = seed
        self.lr_mul = float(lr_mul)
        self.bias_init = float(bias_init)
        self.gain = float(gain)

    def call(self, x):
        fan_in = ops.cast(ops.shape(self.kernel)[0], x.dtype)
        scale = self.lr_mul * self.gain * ops.rsqrt(fan_in)
        y = ops.matmul(x, ops.cast(self.kernel, x.dtype) * scale)
        if self.use_bias:
            y = y + ops.cast(self.bias, x.dtype) * self.lr_mul
        return self.activation(y) if self.activation is not None else y

    def get_config(self):
        config = super().get_config()
        for key in ("kernel_initializer", "bias_initializer"):
            config.pop(key, None)
        return {**config, "lr_mul": self.lr_mul, "bias_init": self.bias_init,
                "gain": self.gain, "seed": self.seed}


@keras.saving.register_keras_serializable(package="ganlib")
class ConstantInput(layers.Layer):
    """The synthesis network's learned starting point, one side x side x channels tensor for
    every image (the batch size is read from the input it is called on)."""

    def __init__(self, side: int, channels: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.side, self.channels, self.seed = int(side), int(channels), seed
        self.constant = self.add_weight(
            shape=(1, self.side, self.side, self.channels), name="constant",
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=seed))

    def call(self, like):
        return ops.tile(ops.cast(self.constant, self.compute_dtype), [ops.shape(like)[0], 1, 1, 1])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.side, self.side, self.channels)

    def get_config(self):
        return {**super().get_config(), "side": self.side, "channels": self.channels,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="ganlib")
class ModulatedConv2D(layers.Layer):
    """StyleGAN2's modulated convolution, called on [features, w].

    An affine map of w gives one scale per input channel (the style); the layer scales the
    input by it, convolves with the shared kernel, then (demodulate=True) divides each
    output channel by the norm its modulated kernel would have, so every image's outputs
    have unit variance again. That is AdaIN's per-image normalisation done on the weights
    instead of the features: it avoids the "droplet" artefacts AdaIN's normalisation causes.
    Written as scale-input / convolve / scale-output (equivalent to modulating each image's
    kernel) so it is one ordinary convolution for the whole batch.
    """

    def __init__(self, filters: int, kernel_size: int = 3, demodulate: bool = True,
                 use_bias: bool = True, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), int(kernel_size)
        self.demodulate, self.use_bias, self.seed = bool(demodulate), bool(use_bias), seed

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        in_channels, w_dim = int(x_shape[-1]), int(w_shape[-1])
        k = self.kernel_size
        fan_in = k * k * in_channels
        # the affine kernel must not repeat the kernel's numbers (one seed, one stream)
        affine_seed = next(layer_seeds(self.seed, "affine"))
        self.kernel = self.add_weight(
            shape=(k, k, in_channels, self.filters), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=1.0 / math.sqrt(fan_in),
                                                        seed=self.seed))
        # the style: N(0, 1 / w_dim) weights and bias 1, so styles start near 1
        self.affine_kernel = self.add_weight(
            shape=(w_dim, in_channels), name="affine_kernel",
            initializer=keras.initializers.RandomNormal(stddev=1.0 / math.sqrt(w_dim),
                                                        seed=affine_seed))
        self.affine_bias = self.add_weight(shape=(in_channels,), name="affine_bias",
                                           initializer="ones")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")

    def style(self, w):
        return ops.matmul(w, ops.cast(self.affine_kernel, w.dtype)) + ops.cast(
            self.affine_bias, w.dtype)

    def call(self, inputs):
        x, w = inputs
        kernel = ops.cast(self.kernel, x.dtype)
        s = self.style(ops.cast(w, x.dtype))  # batch x in_channels
        y = ops.conv(x * s[:, None, None, :], kernel, padding="same")
        if self.demodulate:  # 1 / |kernel * s| per image and output channel
            energy = ops.matmul(ops.square(s), ops.sum(ops.square(kernel), axis=(0, 1)))
            y = y * ops.rsqrt(energy + 1e-8)[:, None, None, :]
        if self.use_bias:
            y = y + ops.cast(self.bias, y.dtype)
        return y

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "demodulate": self.demodulate,
                "use_bias": self.use_bias, "seed": self.seed}


@keras.saving.register_keras_serializable(package="ganlib")
class NoiseInjection(layers.Layer):
    """features + strength * noise, on [features, noise]: one N(0, 1) value per pixel,
    shared by the channels, with a learned per-channel strength (starting at 0)."""

    def build(self, input_shape):
        self.strength = self.add_weight(shape=(int(input_shape[0][-1]),), name="strength",
                                        initializer="zeros")

    def call(self, inputs):
        x, noise = inputs
        return x + ops.cast(noise, x.dtype) * ops.cast(self.strength, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="ganlib")
class FixedNoise(layers.Layer):
    """One fixed side x side x 1 noise map (drawn once from `seed`, saved with the model),
    repeated for each image of the batch it is called on: the noise G uses when it is
    asked for a deterministic image."""

    def __init__(self, side: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.side, self.seed = int(side), seed
        self.noise = self.add_weight(
            shape=(1, self.side, self.side, 1), name="noise", trainable=False,
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=seed))

    def call(self, like):
        return ops.tile(ops.cast(self.noise, self.compute_dtype), [ops.shape(like)[0], 1, 1, 1])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.side, self.side, 1)

    def get_config(self):
        return {**super().get_config(), "side": self.side, "seed": self.seed}


@keras.saving.register_keras_serializable(package="ganlib")
class Truncation(layers.Layer):
    """Holds w_avg, the moving average of the mapping network's output over training (the
    train step updates it), and maps w to w_avg + psi (w - w_avg): the truncation trick.
    psi < 1 pulls every image towards the average one, trading variety for quality."""

    def __init__(self, psi: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.psi = float(psi)

    def build(self, input_shape):
        # "mean": replicas that update it in sync average their updates (tf.distribute)
        self.w_avg = self.add_weight(shape=(int(input_shape[-1]),), name="w_avg",
                                     initializer="zeros", trainable=False, aggregation="mean")

    def call(self, w, psi=None):
        psi = self.psi if psi is None else psi
        avg = ops.cast(self.w_avg, w.dtype)
        return avg + psi * (w - avg)

    def update(self, w, beta: float):
        """w_avg <- beta w_avg + (1 - beta) mean(w over the batch)."""
        mean = ops.mean(ops.cast(w, "float32"), axis=0)
        self.w_avg.assign(beta * self.w_avg + (1.0 - beta) * mean)

    def get_config(self):
        return {**super().get_config(), "psi": self.psi}


@keras.saving.register_keras_serializable(package="ganlib")
class BroadcastW(layers.Layer):
    """w (batch x w_dim) -> ws (batch x num_ws x w_dim): the same w for every layer."""

    def __init__(self, num_ws: int, **kwargs):
        super().__init__(**kwargs)
        self.num_ws = int(num_ws)

    def call(self, w):
        return ops.repeat(w[:, None, :], self.num_ws, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_ws, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "num_ws": self.num_ws}


@keras.saving.register_keras_serializable(package="ganlib")
class SelectW(layers.Layer):
    """ws (batch x num_ws x w_dim) -> ws[:, index]: the w one layer takes."""

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, ws):
        return ws[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


# --- builders ----------------------------------------------------------------------------
def block_sides(image_side: int) -> list[int]:
    """The synthesis network's resolutions, 4 doubling up to the image side (a power of 2)."""
    if image_side < 2 * SMALLEST or image_side & (image_side - 1):
        raise ValueError(f"image side {image_side} must be a power of 2 of at least "
                         f"{2 * SMALLEST}, e.g. 32 (pad 28 x 28 images to 32 x 32).")
    return [SMALLEST * 2**i for i in range(int(math.log2(image_side // SMALLEST)) + 1)]


def block_widths(image_side: int, width: int, max_width: int) -> list[int]:
    """Channels per resolution: `width` at full size, doubling per halving, at most max_width."""
    sides = block_sides(image_side)
    return [min(width * image_side // side, max_width) for side in sides]


def num_ws(image_side: int) -> int:
    """How many ws the synthesis network takes: two per resolution."""
    return 2 * len(block_sides(image_side))


def noise_sides(image_side: int) -> list[int]:
    """The side of each noise input of the synthesis network (one per modulated conv)."""
    sides = block_sides(image_side)
    return [sides[0]] + [s for s in sides[1:] for _ in range(2)]


def build_mapping_network(latent_dim: int = 64, w_dim: int = 64, layers_: int = 4,
                          lr_mul: float = 0.01, seed: int | None = None,
                          name: str = "mapping") -> keras.Model:
    """z -> pixel norm -> `layers_` x (Dense, LeakyReLU(0.2)) -> w."""
    if layers_ < 1:
        raise ValueError(f"the mapping network needs at least 1 layer, got {layers_}.")
    seeds = layer_seeds(seed, name)
    z = keras.Input((latent_dim,), name="z")
    x = PixelNorm(name="pixel_norm")(z)
    for i in range(layers_):
        x = ScaledDense(w_dim, lr_mul=lr_mul, gain=math.sqrt(2), seed=next(seeds),
                        name=f"dense_{i}")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"leaky_{i}")(x)
    return keras.Model(z, x, name=name)


def build_synthesis_network(w_dim: int = 64, image_shape=(32, 32, 1), width: int = 32,
                            max_width: int = 128, seed: int | None = None,
                            name: str = "synthesis") -> keras.Model:
    """[ws (num_ws x w_dim), one noise map per conv (side x side x 1)] -> image in [-1, 1]."""
    side, _, channels = (int(s) for s in image_shape)
    if image_shape[0] != image_shape[1] or channels not in (1, 3):
        raise ValueError(f"image_shape {tuple(image_shape)} is not square H x H x C with C 1 "
                         "or 3.")
    sides, widths = block_sides(side), block_widths(side, width, max_width)
    ws = keras.Input((num_ws(side), w_dim), name="ws")
    noises = [keras.Input((s, s, 1), name=f"noise_{i}_{s}x{s}")
              for i, s in enumerate(noise_sides(side))]
    w_at = [SelectW(i, name=f"w_{i}")(ws) for i in range(num_ws(side))]
    noise_iter = iter(noises)
    seeds = layer_seeds(seed, name)

    def styled_conv(x, filters, w, tag):
        x = ModulatedConv2D(filters, 3, seed=next(seeds), name=f"conv_{tag}")([x, w])
        x = NoiseInjection(name=f"noise_{tag}")([x, next(noise_iter)])
        return layers.LeakyReLU(negative_slope=0.2, name=f"leaky_{tag}")(x)

    x = ConstantInput(SMALLEST, widths[0], seed=next(seeds), name="constant")(ws)
    rgb = None
    for i, (s, filters) in enumerate(zip(sides, widths)):
        if i == 0:
            x = styled_conv(x, filters, w_at[0], f"{s}")
        else:
            x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up_{s}")(x)
            x = styled_conv(x, filters, w_at[2 * i], f"{s}_up")
            x = styled_conv(x, filters, w_at[2 * i + 1], f"{s}")
        y = ModulatedConv2D(channels, 1, demodulate=False, seed=next(seeds),
                            name=f"to_rgb_{s}")([x, w_at[2 * i + 1]])
        if rgb is None:
            rgb = y
        else:  # the skip architecture: the image so far, upsampled, plus this resolution's
            rgb = layers.UpSampling2D(2, interpolation="bilinear", name=f"up_rgb_{s}")(rgb)
            rgb = layers.Add(name=f"rgb_{s}")([rgb, y])
    return keras.Model([ws, *noises], image_output(rgb), name=name)


def build_stylegan_generator(latent_dim: int = 64, w_dim: int = 64, image_shape=(32, 32, 1),
                             width: int = 32, max_width: int = 128, mapping_layers: int = 4,
                             mapping_lr_mul: float = 0.01, seed: int | None = None,
                             name: str = "generator") -> keras.Model:
    """G: z -> mapping -> truncation (psi 1 unless changed) -> the same w for every layer ->
    synthesis with the fixed noise maps -> image. Its layers "mapping", "truncation" and
    "synthesis" give the parts (see `synthesize` for mixing, truncation and fresh noise)."""
    seeds = layer_seeds(seed, name)
    mapping = build_mapping_network(latent_dim, w_dim, mapping_layers, mapping_lr_mul,
                                    seed=next(seeds))
    synthesis = build_synthesis_network(w_dim, image_shape, width, max_width, next(seeds))
    z = keras.Input((latent_dim,), name="noise")
    w = Truncation(name="truncation")(mapping(z))
    ws = BroadcastW(num_ws(int(image_shape[0])), name="broadcast")(w)
    noises = [FixedNoise(s, seed=next(seeds), name=f"fixed_noise_{i}")(z)
              for i, s in enumerate(noise_sides(int(image_shape[0])))]
    return keras.Model(z, synthesis([ws, *noises]), name=name)


# --- using G's parts ---------------------------------------------------------------------
def parts(generator: keras.Model):
    """(mapping, truncation, synthesis) of a `build_stylegan_generator` model."""
    return (generator.get_layer("mapping"), generator.get_layer("truncation"),
            generator.get_layer("synthesis"))


def fixed_noise(generator: keras.Model, n: int) -> list[np.ndarray]:
    """G's fixed noise maps, repeated for n images."""
    maps = [layer.noise for layer in generator.layers if isinstance(layer, FixedNoise)]
    return [np.repeat(keras.ops.convert_to_numpy(m), n, axis=0) for m in maps]


def random_noise(generator: keras.Model, n: int, seed: int = 0) -> list[np.ndarray]:
    """Fresh N(0, 1) noise maps for n images, one per noise input of the synthesis network."""
    rng = np.random.default_rng(seed)
    synthesis = parts(generator)[2]
    return [rng.standard_normal((n, *x.shape[1:])).astype("f4") for x in synthesis.inputs[1:]]


def mix_ws(ws_a, ws_b, layers_: range) -> np.ndarray:
    """Style mixing: ws_a (n x num_ws x w_dim), with the layers in `layers_` (e.g. range(0, 4),
    the coarse ones) taken from ws_b instead."""
    mixed = np.array(ws_a, "f4")
    index = list(layers_)
    mixed[:, index] = np.asarray(ws_b, "f4")[:, index]
    return mixed


def synthesize(generator: keras.Model, z=None, *, ws=None, psi: float = 1.0, noise=None,
               batch_size: int = 500) -> np.ndarray:
    """Images from latents z (n x latent_dim), or from given ws (n x num_ws x w_dim, e.g.
    mixed), with truncation psi (applied to z's ws; 1 = none, 0 = the average image) and
    `noise`: None for G's fixed noise maps, or a list of maps (`random_noise`)."""
    mapping, truncation, synthesis = parts(generator)
    count = int(synthesis.inputs[0].shape[1])
    if ws is None:
        w = mapping.predict(np.asarray(z, "f4"), batch_size=batch_size, verbose=0)
        ws = np.repeat(w[:, None, :], count, axis=1)
    ws = np.asarray(ws, "f4")
    if psi != 1.0:
        avg = keras.ops.convert_to_numpy(truncation.w_avg)
        ws = avg + psi * (ws - avg)
    noise = fixed_noise(generator, len(ws)) if noise is None else noise
    return synthesis.predict([ws, *noise], batch_size=batch_size, verbose=0)


def ws_of(generator: keras.Model, z) -> np.ndarray:
    """The mapping network's w for each latent (n x w_dim), repeated for every layer."""
    mapping, _, synthesis = parts(generator)
    w = mapping.predict(np.asarray(z, "f4"), verbose=0)
    return np.repeat(w[:, None, :], int(synthesis.inputs[0].shape[1]), axis=1)
