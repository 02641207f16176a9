"""Trainer callbacks: fixed-noise snapshots, TensorBoard, an EMA generator.

The watchdog (`ganlib.watchdog`) and the best checkpoint (`ganlib.checkpoints`) are callbacks too.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf


class Callback:
    """Hooks the trainer calls; `on_rollback` follows a restore to an earlier step."""

    def on_train_begin(self, trainer):
        pass

    def on_step_end(self, trainer, logs):
        pass

    def on_rollback(self, trainer):
        pass

    def on_train_end(self, trainer):
        pass


def due(trainer, every: int) -> bool:
    return every > 0 and trainer.global_step % every == 0


def fixed_inputs(inputs):
    """A generator's fixed input: noise, or [noise, labels] for a conditional generator."""
    if isinstance(inputs, (list, tuple)):
        return [np.asarray(inputs[0], np.float32), *(np.asarray(x, np.int32) for x in inputs[1:])]
    return np.asarray(inputs, np.float32)


def _head(inputs, n: int):
    return [x[:n] for x in inputs] if isinstance(inputs, list) else inputs[:n]


class EMA(Callback):
    """Keeps `model` (an exponential moving average of `source`'s weights) after each step.

    Averaging the last few thousand generators smooths the oscillation of GAN training and
    usually gives cleaner samples than the latest weights; lesson 06 averages its classifiers
    the same way. Batch-norm statistics are averaged too. The average is bias-corrected as
    Adam's moments are: after t steps it weighs the weights of steps 1..t alone, in proportion
    decay^(t - i), and never the untrained ones, so a short run's samples are not half those
    of random weights (at t steps, a plain average started from them would still hold decay^t
    of them: 0.5 after 693 at 0.999). `key` names the average in the run's checkpoints.
    """

    def __init__(self, source: keras.Model, decay: float = 0.999, key: str = "ema_generator"):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay {decay} must be in [0, 1).")
        self.source = source
        self.decay = decay
        self.key = key
        self.model = keras.models.clone_model(source)
        self.model.set_weights(source.get_weights())
        self._update = tf.function(self._apply)

    def _apply(self, step):
        # the bias-corrected average's own decay at step t: decay (1 - decay^(t-1)) / (1 - decay^t)
        t = tf.maximum(tf.cast(step, tf.float64), 1.0)
        kept = self.decay * (1.0 - self.decay ** (t - 1.0)) / (1.0 - self.decay ** t)
        for ema, w in zip(self.model.weights, self.source.weights):
            ema.assign(tf.cast(kept, ema.dtype) * ema + tf.cast(1.0 - kept, ema.dtype) * w)

    def trackables(self):
        return {self.key: self.model}

    def on_step_end(self, trainer, logs):
        self._update(tf.constant(trainer.global_step, tf.int64))


class Snapshots(Callback):
    """Every `every` steps, keep `generator(noise)` from fixed noise (and write a PNG grid).

    `frames` is a list of (step, outputs) that lessons turn into plots and a training GIF.
    """

    def __init__(self, generator, noise, every: int = 500, save_images: bool = True):
        self.generator = generator  # a model, or a callable returning the model to use
        self.noise = fixed_inputs(noise)
        self.every = every
        self.save_images = save_images
        self.frames: list[tuple[int, np.ndarray]] = []

    def model(self):
        return self.generator if isinstance(self.generator, keras.Model) else self.generator()

    def take(self, trainer):
        if self.frames and self.frames[-1][0] == trainer.global_step:
            return
        out = np.asarray(self.model()(self.noise, training=False))
        self.frames.append((trainer.global_step, out))
        if self.save_images and out.ndim == 4:
            from .viz import save_grid

            folder = Path(trainer.run_dir) / "samples"
            folder.mkdir(exist_ok=True)
            save_grid(out, folder / f"step_{trainer.global_step:07d}.png")

    def on_train_begin(self, trainer):
        self.on_rollback(trainer)
        self.take(trainer)

    def on_rollback(self, trainer):
        self.frames = [f for f in self.frames if f[0] <= trainer.global_step]

    def on_step_end(self, trainer, logs):
        if due(trainer, self.every):
            self.take(trainer)

    def on_train_end(self, trainer):
        self.take(trainer)


class TensorBoard(Callback):
    """Scalars from the history as they are logged, and sample images every `image_every`."""

    def __init__(self, generator=None, noise=None, image_every: int = 1000):
        self.generator = generator
        self.noise = None if noise is None else fixed_inputs(noise)
        self.image_every = image_every
        self.writer = None
        self._last_step = -1

    def on_train_begin(self, trainer):
        self.writer = tf.summary.create_file_writer(str(Path(trainer.run_dir) / "tensorboard"))
        self.on_rollback(trainer)

    def on_rollback(self, trainer):
        self._last_step = trainer.global_step

    def on_step_end(self, trainer, logs):
        new = [r for r in trainer.history[-3:] if r["step"] > self._last_step]
        with self.writer.as_default():
            for record in new:  # losses, and the numbers of events (evaluations, rollbacks)
                for k, v in record.items():
                    if k not in ("step", "seconds") and isinstance(v, (int, float)):
                        tf.summary.scalar(k, v, step=record["step"])
            if self.generator is not None and due(trainer, self.image_every):
                images = self.generator(_head(self.noise, 16), training=False)
                tf.summary.image("samples", (images + 1.0) / 2.0, step=trainer.global_step,
                                 max_outputs=16)
        if new:
            self._last_step = new[-1]["step"]

    def on_train_end(self, trainer):
        self.writer.flush()
