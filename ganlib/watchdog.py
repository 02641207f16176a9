"""The watchdog: roll a failing run back to its last good checkpoint instead of wasting it.

GAN runs fail in two ways the seed books warn about: the losses turn NaN/Inf, or the
discriminator wins outright (its loss near zero, the generator's exploding) and the generator
never recovers. The watchdog notices either, asks the trainer to restore the last checkpoint
(checkpoints are only written while the run looks healthy), changes the seed so the run does
not walk into the same failure, optionally lowers the learning rates, records a `rollback`
event in the history, and gives up with a clear message after `max_rollbacks`.
"""

from __future__ import annotations

import math

from .callbacks import Callback

ADVERSARIAL_KEYS = ("d_adversarial_loss", "g_adversarial_loss")


class TrainingDiverged(RuntimeError):
    """The run kept failing after the allowed number of rollbacks."""


class Watchdog(Callback):
    """Detect divergence or collapse for `patience` steps; roll back and retry.

    d_floor:   discriminator loss below this counts as "D has won" (None: not checked).
    g_ceiling: generator loss above this counts as "G's loss explodes" (None: not checked).
    lr_factor: multiply every learning rate by this on each rollback (1.0 keeps them).
    Losses that are not finite trigger at once. Where a step logs `d_adversarial_loss` and
    `g_adversarial_loss` (its losses hold more than the adversarial game), those are checked.
    """

    def __init__(self, patience: int = 200, d_floor: float | None = 1e-3,
                 g_ceiling: float | None = 20.0,
                 max_rollbacks: int = 3, lr_factor: float = 0.5,
                 d_key: str = "discriminator_loss", g_key: str = "generator_loss"):
        self.patience = patience
        self.d_floor = d_floor
        self.g_ceiling = g_ceiling
        self.max_rollbacks = max_rollbacks
        self.lr_factor = lr_factor
        self.d_key, self.g_key = d_key, g_key
        self.rollbacks = 0
        self._streaks = {"d": 0, "g": 0}
        self._reason = ""

    def on_train_begin(self, trainer):
        self._streaks = {"d": 0, "g": 0}
        trainer.healthy = True

    def diagnose(self, values: dict) -> str:
        """Why the run is failing after a step with these loss values, or "" if it is not."""
        bad = sorted(k for k, v in values.items() if not math.isfinite(v))
        if bad:
            return f"non-finite values: {', '.join(bad)}"
        # a step whose losses add other terms (AC-GAN's classes, InfoGAN's codes) logs the
        # adversarial parts on their own: those say whether D has won
        d_key, g_key = (k if k in values else default
                        for k, default in zip(ADVERSARIAL_KEYS, (self.d_key, self.g_key)))
        d = values.get(d_key) if self.d_floor is not None else None
        g = values.get(g_key) if self.g_ceiling is not None else None
        self._streaks["d"] = self._streaks["d"] + 1 if d is not None and d < self.d_floor else 0
        self._streaks["g"] = self._streaks["g"] + 1 if g is not None and g > self.g_ceiling else 0
        if self._streaks["d"] >= self.patience:
            return f"{d_key} below {self.d_floor:g} for {self.patience} steps (D has won)"
        if self._streaks["g"] >= self.patience:
            return f"{g_key} above {self.g_ceiling:g} for {self.patience} steps"
        return ""

    def on_step_end(self, trainer, logs):
        reason = self.diagnose({k: float(v) for k, v in logs.items()})
        trainer.healthy = not reason and not any(self._streaks.values())
        if not reason:
            return
        if self.rollbacks >= self.max_rollbacks:
            raise TrainingDiverged(
                f"training failed at step {trainer.global_step} ({reason}) and did not recover "
                f"after {self.rollbacks} rollbacks. The last good checkpoint is kept in "
                f"{trainer.run_dir}/checkpoints. Try a lower learning rate, label smoothing "
                "(real_label=0.9), dropout in D, or another loss."
            )
        self._reason = reason
        trainer.request_rollback(reason)

    def on_rollback(self, trainer):
        """Called by the trainer once the last checkpoint is restored."""
        self.rollbacks += 1
        self._streaks = {"d": 0, "g": 0}
        trainer.healthy = True
        step = trainer.step
        step.seed.assign_add(1_000_003 * self.rollbacks)
        factor = self.lr_factor**self.rollbacks
        for opt in step.optimizers.values():  # from the restored rates, so factors compound
            opt.learning_rate = float(opt.learning_rate) * self.lr_factor
        event = {"reason": self._reason, "rollback": self.rollbacks,
                 "seed": int(step.seed.numpy()), "lr_factor": factor}
        trainer.log_event("rollback", **event)
        print(f"\nwatchdog: {self._reason}; rolled back to step {trainer.global_step} "
              f"(rollback {self.rollbacks} of at most {self.max_rollbacks}), new seed "
              f"{event['seed']}, learning rates x{factor:g}.")
