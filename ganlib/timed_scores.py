"""Score a run at regular intervals of its training time, with the clock paused while scoring.

`bench all` uses it for time to target; lesson 09 for each loss's FID over training time. Both
compare runs by training time, so the scoring itself must not count against a run's budget.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from .callbacks import Callback


class TimedScores(Callback):
    """Calls `measure()` -> (value, {details}) every `every_s` seconds of training (and every
    `every_steps` steps if given), records each score in `evaluations` and ends training
    (`trainer.request_stop`) after `budget_s` seconds of training, or at the first record
    `stop(record)` accepts. Give `trainer.fit` a generous budget of its own: the trainer's
    clock counts the scoring too.
    """

    def __init__(self, measure: Callable[[], tuple], budget_s: float, every_s: float,
                 every_steps: int | None = None, stop: Callable[[dict], bool] | None = None,
                 verbose: bool = True):
        self.measure, self.budget_s, self.every_s = measure, budget_s, every_s
        self.every_steps, self.stop, self.verbose = every_steps, stop, verbose
        self.evaluations: list[dict] = []

    def on_train_begin(self, trainer):
        self._start, self._paused, self._next = time.perf_counter(), 0.0, self.every_s

    def train_seconds(self) -> float:
        return time.perf_counter() - self._start - self._paused

    def evaluate(self, trainer) -> dict:
        seconds = self.train_seconds()
        began = time.perf_counter()
        value, details = self.measure()
        record = {"step": trainer.global_step, "train_seconds": round(seconds, 1),
                  "value": round(float(value), 4),
                  "eval_seconds": round(time.perf_counter() - began, 1), **details}
        self._paused += time.perf_counter() - began
        self.evaluations.append(record)
        if self.verbose:
            print(json.dumps({"evaluation": record}), file=sys.stderr, flush=True)
        return record

    def on_step_end(self, trainer, logs):
        seconds = self.train_seconds()
        by_steps = bool(self.every_steps) and trainer.global_step % self.every_steps == 0
        if seconds < self._next and seconds < self.budget_s and not by_steps:
            return
        record = self.evaluate(trainer)
        if seconds >= self.budget_s or (self.stop is not None and self.stop(record)):
            trainer.request_stop()
        while self._next <= seconds:
            self._next += self.every_s

    def finish(self, trainer) -> None:
        """Score the last step too, if the run ended (a step budget) between two scores."""
        if not self.evaluations or self.evaluations[-1]["step"] != trainer.global_step:
            record = self.evaluate(trainer)
            if self.stop is not None:
                self.stop(record)
