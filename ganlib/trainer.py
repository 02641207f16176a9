"""The training loop: run a step for a number of steps, epochs or minutes.

The loop itself is small; everything optional (samples, checkpoints, TensorBoard, EMA) is a
callback with three hooks: `on_train_begin(trainer)`, `on_step_end(trainer, logs)` and
`on_train_end(trainer)`. History goes to `RUN_DIR/history.jsonl`, one JSON object per
logged step.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import keras
import tensorflow as tf

from .steps import TrainStep


class Trainer:
    """Drive `step` over batches from `data` and write the run under `run_dir`."""

    def __init__(self, step: TrainStep, data: tf.data.Dataset, run_dir, callbacks=(),
                 log_every: int = 50, progress: bool = True):
        self.step = step
        self.data = data
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.callbacks = list(callbacks)
        self.log_every = max(1, int(log_every))
        self.progress = progress
        self.history: list[dict] = []
        self.history_path = self.run_dir / "history.jsonl"
        self._iterator = None

    @property
    def global_step(self) -> int:
        return int(self.step.step.numpy())

    def trackables(self) -> dict:
        """The step's state plus whatever callbacks (e.g. EMA) add: all a checkpoint needs."""
        objs = dict(self.step.trackables())
        for cb in self.callbacks:
            objs.update(getattr(cb, "trackables", dict)())
        return objs

    def fit(self, steps: int | None = None, minutes: float | None = None,
            epochs: float | None = None, steps_per_epoch: int | None = None) -> list[dict]:
        """Train until the step counter reaches `steps` (or `epochs` worth), or for `minutes`.

        `steps` is a total, so a resumed run finishes where the original would have.
        """
        if sum(v is not None for v in (steps, minutes, epochs)) != 1:
            raise ValueError("give exactly one of steps, minutes or epochs")
        if epochs is not None:
            if not steps_per_epoch:
                raise ValueError("epochs needs steps_per_epoch")
            steps = math.ceil(epochs * steps_per_epoch)
        self._load_history()
        for cb in self.callbacks:
            cb.on_train_begin(self)
        self._trim_history(self.global_step)
        deadline = time.monotonic() + 60 * minutes if minutes is not None else math.inf
        target = steps if steps is not None else None
        bar = keras.utils.Progbar(target, stateful_metrics=None) if self.progress else None
        if self._iterator is None:
            self._iterator = iter(self.strategy_dataset())
        start = time.monotonic()
        with open(self.history_path, "a") as out:
            while (target is None or self.global_step < target) and time.monotonic() < deadline:
                logs = self.step(next(self._iterator))
                step = self.global_step
                if step % self.log_every == 0 or step == target:
                    record = {"step": step, **{k: float(v) for k, v in logs.items()},
                              "seconds": round(time.monotonic() - start, 3)}
                    self.history.append(record)
                    out.write(json.dumps(record) + "\n")
                    out.flush()
                    if bar:
                        bar.update(step, [(k, v) for k, v in record.items()
                                          if k not in ("step", "seconds")])
                for cb in self.callbacks:
                    cb.on_step_end(self, logs)
        for cb in self.callbacks:
            cb.on_train_end(self)
        if bar:
            print()
        return self.history

    def strategy_dataset(self):
        strategy = self.step.strategy
        if strategy.num_replicas_in_sync > 1:
            return strategy.experimental_distribute_dataset(self.data)
        return self.data

    def _load_history(self):
        if not self.history and self.history_path.exists():
            with open(self.history_path) as f:
                self.history = [json.loads(line) for line in f if line.strip()]

    def _trim_history(self, step: int):
        """Drop records past the restored step, so a resumed run has no repeated steps."""
        kept = [r for r in self.history if r["step"] <= step]
        if len(kept) != len(self.history) or not self.history_path.exists():
            self.history = kept
            tmp = self.history_path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
            tmp.replace(self.history_path)
