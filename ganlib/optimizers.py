"""FusedAdam, the course's optimizer: Keras's Adam, updated by TensorFlow's fused kernel.

Keras 3's Adam updates each variable with about ten small ops (two moments, the step size,
three assignments); TensorFlow's `ResourceApplyAdam` does the same in one kernel. On this
course's 2-core CPU that saves 1-2 ms of lesson 02's ~35 ms step (3-5%, measured back to
back). The maths is Keras's (`lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) +
epsilon)`), the variables are Keras's, so checkpoints, loss scaling, gradient clipping,
weight decay and `tf.distribute` work as with `keras.optimizers.Adam`. AMSGrad and sparse
gradients use Keras's own update. One addition: `decay=`, the learning-rate decay of lessons
06 and 08 (held, then linearly to 0), on a rate the watchdog can still cut.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class HoldThenLinearDecay:
    """The factor on a learning rate at optimizer step `step`: 1 for the first `hold` share of
    `total_steps`, then falling linearly to 0 at `total_steps` (and 0 after it). Give it to
    `FusedAdam(decay=...)`, which keeps its learning rate a variable the watchdog may cut."""

    def __init__(self, total_steps: int, hold: float = 0.5):
        if not total_steps or total_steps < 1:
            raise ValueError(f"total_steps must be a positive step budget, got {total_steps}.")
        if not 0 <= hold < 1:
            raise ValueError(f"hold must be a share of the steps in [0, 1), got {hold}.")
        self.total_steps, self.hold = int(total_steps), float(hold)

    def __call__(self, step):
        left = 1.0 - tf.cast(step, tf.float32) / self.total_steps  # share of the steps to go
        return tf.clip_by_value(left / (1.0 - self.hold), 0.0, 1.0)

    def get_config(self) -> dict:
        return {"total_steps": self.total_steps, "hold": self.hold}


@keras.saving.register_keras_serializable("ganlib")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose per-variable update is `tf.raw_ops.ResourceApplyAdam`.

    decay: a `HoldThenLinearDecay`; each update then uses `learning_rate` times its factor at
    the optimizer's step. `learning_rate` stays a variable (unlike a Keras schedule's), so a
    checkpoint holds it and the watchdog's cut on a rollback (`opt.learning_rate = ...`)
    scales the rest of the schedule.
    """

    def __init__(self, learning_rate=0.001, *args, decay: HoldThenLinearDecay | None = None,
                 **kwargs):
        super().__init__(learning_rate, *args, **kwargs)
        self.decay = decay

    def current_learning_rate(self):
        """The rate the next update uses: `learning_rate`, times the decay's factor if any."""
        return self._decayed(self.learning_rate)

    def _decayed(self, learning_rate):
        return learning_rate if self.decay is None else learning_rate * self.decay(self.iterations)

    def get_config(self) -> dict:
        return {**super().get_config(), "decay": self.decay and self.decay.get_config()}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        decay = config.get("decay")
        config = {**config, "decay": decay and HoldThenLinearDecay(**decay)}
        return super().from_config(config, custom_objects)

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = self._decayed(learning_rate)
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        if isinstance(variable, keras.Variable):
            variable = variable.value  # the tf.Variable (TFOptimizer passes that already)
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        m, v = self._momentums[index].value, self._velocities[index].value
        t = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(beta_1, t), beta2_power=tf.pow(beta_2, t),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))
