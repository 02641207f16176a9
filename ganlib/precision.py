"""Mixed precision: compute in 16 bits, keep the weights and the numerics-sensitive outputs in
float32.

`use("mixed_float16")` (GPUs: fast tensor-core maths; the train step then scales the losses so
small float16 gradients do not underflow) or `use("mixed_bfloat16")` (TPUs and recent CPUs:
float32's range, no loss scaling needed) before a lesson is built. Every model's last layer (a
generator's tanh image, a discriminator's logits and heads) is float32 whatever the policy,
and the losses are computed in float32.
"""

from __future__ import annotations

import keras

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def use(policy: str = "float32") -> None:
    """Set Keras's global dtype policy for the models built from now on."""
    if policy not in POLICIES:
        raise ValueError(f"Unknown precision {policy!r}; choose one of {', '.join(POLICIES)}.")
    keras.config.set_dtype_policy(policy)


def current() -> str:
    return keras.config.dtype_policy().name


def with_loss_scaling(optimizer):
    """`optimizer`, wrapped to scale the loss under mixed_float16 (unchanged otherwise)."""
    if current() == "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
