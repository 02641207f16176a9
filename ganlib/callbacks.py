"""Trainer callbacks: fixed-noise snapshots, checkpoints, TensorBoard, an EMA generator."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf


class Callback:
    def on_train_begin(self, trainer):
        pass

    def on_step_end(self, trainer, logs):
        pass

    def on_train_end(self, trainer):
        pass


def _due(trainer, every: int) -> bool:
    return every > 0 and trainer.global_step % every == 0


class EMA(Callback):
    """Keeps `model` (an exponential moving average of the generator's weights) after each step.

    Averaging the last few thousand generators smooths the oscillation of GAN training and
    usually gives cleaner samples than the latest weights. Batch-norm statistics are averaged
    too.
    """

    def __init__(self, generator: keras.Model, decay: float = 0.999):
        self.source = generator
        self.decay = decay
        self.model = keras.models.clone_model(generator)
        self.model.set_weights(generator.get_weights())
        self._update = tf.function(self._apply)

    def _apply(self):
        for ema, w in zip(self.model.weights, self.source.weights):
            ema.assign(self.decay * ema + (1.0 - self.decay) * w)

    def trackables(self):
        return {"ema_generator": self.model}

    def on_step_end(self, trainer, logs):
        self._update()


class Checkpoints(Callback):
    """`tf.train.CheckpointManager` under `RUN_DIR/checkpoints`; restores the latest at start."""

    def __init__(self, every: int = 1000, max_to_keep: int = 2, restore: bool = True):
        self.every = every
        self.max_to_keep = max_to_keep
        self.restore = restore
        self.manager = None
        self.restored_from = None

    def on_train_begin(self, trainer):
        if self.manager is None:
            ckpt = tf.train.Checkpoint(**trainer.trackables())
            self.manager = tf.train.CheckpointManager(
                ckpt, Path(trainer.run_dir) / "checkpoints", max_to_keep=self.max_to_keep)
            if self.restore and self.manager.latest_checkpoint:
                ckpt.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
                self.restored_from = self.manager.latest_checkpoint

    def save(self, trainer):
        if self.manager.latest_checkpoint != self._path(trainer.global_step):
            self.manager.save(checkpoint_number=trainer.global_step)

    def _path(self, step: int) -> str:
        return str(Path(self.manager.directory) / f"ckpt-{step}")

    def on_step_end(self, trainer, logs):
        if _due(trainer, self.every):
            self.save(trainer)

    def on_train_end(self, trainer):
        self.save(trainer)


class Snapshots(Callback):
    """Every `every` steps, keep `generator(noise)` from fixed noise (and write a PNG grid).

    `frames` is a list of (step, outputs) that lessons turn into plots and a training GIF.
    """

    def __init__(self, generator, noise, every: int = 500, save_images: bool = True):
        self.generator = generator  # a model, or a callable returning the model to use
        self.noise = np.asarray(noise, np.float32)
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
        self.take(trainer)

    def on_step_end(self, trainer, logs):
        if _due(trainer, self.every):
            self.take(trainer)

    def on_train_end(self, trainer):
        self.take(trainer)


class TensorBoard(Callback):
    """Scalars from the history as they are logged, and sample images every `image_every`."""

    def __init__(self, generator=None, noise=None, image_every: int = 1000):
        self.generator = generator
        self.noise = None if noise is None else np.asarray(noise, np.float32)
        self.image_every = image_every
        self.writer = None
        self._last_step = -1

    def on_train_begin(self, trainer):
        self.writer = tf.summary.create_file_writer(str(Path(trainer.run_dir) / "tensorboard"))
        self._last_step = trainer.global_step

    def on_step_end(self, trainer, logs):
        new = [r for r in trainer.history[-2:] if r["step"] > self._last_step]
        with self.writer.as_default():
            for record in new:
                for k, v in record.items():
                    if k not in ("step", "seconds"):
                        tf.summary.scalar(k, v, step=record["step"])
            if self.generator is not None and _due(trainer, self.image_every):
                images = self.generator(self.noise[:16], training=False)
                tf.summary.image("samples", (images + 1.0) / 2.0, step=trainer.global_step,
                                 max_outputs=16)
        if new:
            self._last_step = new[-1]["step"]

    def on_train_end(self, trainer):
        self.writer.flush()
