"""The training loop: run a step for a number of steps, epochs or minutes.

The loop itself is small; everything optional (samples, TensorBoard, EMA, the watchdog, the
best checkpoint) is a callback with hooks `on_train_begin`, `on_step_end`, `on_rollback` and
`on_train_end`. Checkpoints belong to the loop: they are restored before any callback looks
at the run and saved after every callback has updated it. History goes to
`RUN_DIR/history.jsonl`, one JSON object per logged step, plus `event` records (rollbacks,
evaluations). Training takes the run directory's lock (see `ganlib.runlock`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf

from .checkpoints import Checkpoints
from .runlock import hold
from .steps import TrainStep


class Trainer:
    """Drive `step` over batches and write the run under `run_dir`.

    batches: `start_step -> tf.data.Dataset`, the batches a run sees from that step on (see
             `ganlib.data.batches`), so a resumed or rolled-back run continues with the same
             data as an uninterrupted one.
    """

    def __init__(self, step: TrainStep, batches: Callable[[int], tf.data.Dataset], run_dir,
                 callbacks=(), checkpoints: Checkpoints | None = None, log_every: int = 50,
                 progress: bool = True):
        self.step = step
        self.batches = batches
        self.run_dir = Path(run_dir)
        self.callbacks = list(callbacks)
        self.checkpoints = checkpoints
        self.log_every = max(1, int(log_every))
        self.progress = progress
        self.history: list[dict] = []
        self.history_path = self.run_dir / "history.jsonl"
        self.healthy = True  # the watchdog clears it while a run looks like failing
        self._iterator = None
        self._rollback_reason = ""
        self._stop_requested = False

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
        hold(self.run_dir)  # from now on this process owns the run directory
        return self._fit(steps, minutes)

    def _fit(self, target, minutes):
        self.load_history()
        if self.checkpoints is not None:
            self.checkpoints.open(self)
        self._trim_history(self.global_step)
        for cb in self.callbacks:
            cb.on_train_begin(self)
        self._stop_requested = False
        deadline = time.monotonic() + 60 * minutes if minutes is not None else math.inf
        bar = self._progress_bar(target, minutes)
        start = time.monotonic()
        logs, logged = None, True

        def log(step):
            record = {"step": step, **{k: float(v) for k, v in logs.items()},
                      "seconds": round(time.monotonic() - start, 3)}
            self._append(record)
            if bar and minutes is not None:  # a time budget: seconds done of those given
                bar.update(min(int(record["seconds"]), bar.target),
                           [(k, v) for k, v in record.items() if k != "seconds"])
            elif bar:
                bar.update(step, [(k, v) for k, v in record.items()
                                  if k not in ("step", "seconds")])

        while ((target is None or self.global_step < target) and time.monotonic() < deadline
               and not self._stop_requested):
            if self._iterator is None:
                self._iterator = iter(self._dataset(self.global_step))
            logs = self.step(next(self._iterator))
            step = self.global_step
            logged = step % self.log_every == 0 or step == target
            if logged:
                log(step)
            for cb in self.callbacks:
                cb.on_step_end(self, logs)
            if self._rollback_reason:
                self._rollback()
                logged = True  # nothing of the undone step is left to log
            elif self.checkpoints is not None and self.healthy and self.checkpoints.due(self):
                self.checkpoints.save(self)
        if not logged:  # a time budget ended between two logged steps
            log(self.global_step)
        for cb in self.callbacks:
            cb.on_train_end(self)
        if self.checkpoints is not None and self.healthy:
            self.checkpoints.save(self)
        if bar:
            print()
        return self.history

    def _progress_bar(self, target: int | None, minutes: float | None):
        """A bar of steps done of `target`, or, on a minutes budget, of seconds trained and
        left (the step shown beside the losses); None without `progress`."""
        if not self.progress:
            return None
        if minutes is None:
            return keras.utils.Progbar(target)
        return keras.utils.Progbar(max(1, round(60 * minutes)), unit_name="s",
                                   stateful_metrics=["step"])

    def request_stop(self) -> None:
        """End training after this step, as if its budget were spent (a callback's budget)."""
        self._stop_requested = True

    # --- rollback (asked for by the watchdog) -------------------------------------------------
    def request_rollback(self, reason: str) -> None:
        """Restore the last checkpoint once this step's callbacks have run."""
        if self.checkpoints is None:
            raise RuntimeError(f"training failed ({reason}) and this run keeps no checkpoints "
                               "to roll back to.")
        self._rollback_reason = reason

    def _rollback(self):
        self._rollback_reason = ""
        self.checkpoints.restore_latest(self)
        self._trim_history(self.global_step)
        self._iterator = None
        for cb in self.callbacks:
            cb.on_rollback(self)

    # --- history ---------------------------------------------------------------------------
    def log_event(self, event: str, **fields) -> None:
        """Add an event record (a rollback, an evaluation) to the history at the current step."""
        self._append({"step": self.global_step, "event": event, **fields})

    def _append(self, record: dict) -> None:
        self.history.append(record)
        with open(self.history_path, "a") as out:
            out.write(json.dumps(record) + "\n")

    def _dataset(self, start_step: int):
        ds = self.batches(start_step)
        strategy = self.step.strategy
        replicas = strategy.num_replicas_in_sync
        if replicas > 1:
            batch = tf.nest.flatten(ds.element_spec)[0].shape[0]
            if batch is not None and batch % replicas:
                raise ValueError(f"the global batch of {batch} does not split evenly among "
                                 f"{replicas} replicas; use a multiple of {replicas}.")
            # Each global batch is split among the replicas (every worker builds the same
            # stream from the same seed); file-based sharding does not apply to arrays.
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = (
                tf.data.experimental.AutoShardPolicy.DATA)
            return strategy.experimental_distribute_dataset(ds.with_options(options))
        return ds

    def load_history(self):
        """Read `history.jsonl` into `history` (once; a resumed run appends to it)."""
        if self.history or not self.history_path.exists():
            return
        for line in self.history_path.read_text().splitlines():
            try:
                self.history.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a kill; the trim drops it
                continue

    def _trim_history(self, step: int):
        """Drop records past the restored step, so a resumed run has no repeated steps."""
        self.history = [r for r in self.history if r["step"] <= step]
        tmp = self.history_path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in self.history))
        tmp.replace(self.history_path)
