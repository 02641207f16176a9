"""Checkpoints of a run: the latest ones to resume from, and the best one by the lesson's metric.

`tf.train.CheckpointManager` writes a checkpoint's files first and its `checkpoint` index
last, atomically, so a run killed while saving still points at the previous checkpoint. A
checkpoint that is there but unreadable (a truncated copy, a full disk) is skipped with a
warning in favour of the one before it. One that does not fit the model is an error.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import tensorflow as tf

from .callbacks import Callback, due


class CheckpointMismatch(RuntimeError):
    """A checkpoint holds another model (another lesson, or other sizes)."""


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__


def unreadable(path: str) -> str:
    """Why the checkpoint at `path` cannot be read in full, or "" if it can."""
    try:
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as e:  # noqa: BLE001  (TF reports damage with many exception types)
        return _first_line(e)
    return ""


def restore_from(manager: tf.train.CheckpointManager, checkpoint: tf.train.Checkpoint,
                 run_dir) -> str | None:
    """Restore the newest readable checkpoint of `manager`; return its path (None if none)."""
    for path in reversed(manager.checkpoints):
        damage = unreadable(path)
        if damage:
            warnings.warn(f"skipping unreadable checkpoint {path}: {damage}", stacklevel=2)
            continue
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
        except (ValueError, AssertionError, tf.errors.OpError) as e:
            raise CheckpointMismatch(
                f"the checkpoint {path} does not fit this model ({_first_line(e)}). It was "
                f"written with other settings, by another lesson (see {run_dir}/config.json) or "
                "by another version of ganlib. Resume with the same lesson and settings, or use a "
                "new run directory."
            ) from None
        return path
    return None


class Checkpoints:
    """The run's checkpoints under `RUN_DIR/checkpoints`, every `every` steps.

    The trainer opens it before anything else looks at the run (restoring the newest good
    checkpoint, or saving step 0 so a rollback always has somewhere to go) and saves after
    every other per-step update, so a checkpoint holds one consistent moment.
    """

    def __init__(self, every: int = 1000, max_to_keep: int = 2, restore: bool = True):
        self.every = every
        self.max_to_keep = max_to_keep
        self.restore = restore
        self.manager = None
        self.restored_from = None

    def open(self, trainer, save_initial: bool = True) -> None:
        if self.manager is None:
            self._checkpoint = tf.train.Checkpoint(**trainer.trackables())
            self.manager = tf.train.CheckpointManager(
                self._checkpoint, Path(trainer.run_dir) / "checkpoints",
                max_to_keep=self.max_to_keep)
            if self.restore:
                self.restore_latest(trainer)
        if save_initial and self.manager.latest_checkpoint is None:
            self.save(trainer)

    def restore_latest(self, trainer) -> str | None:
        path = restore_from(self.manager, self._checkpoint, trainer.run_dir)
        if path is not None:
            self.restored_from = path
        return path

    def save(self, trainer) -> None:
        step = trainer.global_step
        if self.manager.latest_checkpoint != str(Path(self.manager.directory) / f"ckpt-{step}"):
            self.manager.save(checkpoint_number=step)

    def due(self, trainer) -> bool:
        return due(trainer, self.every)


class KeepBest(Callback):
    """Every `every` steps, score the run (lower is better) and keep the best checkpoint.

    "More epochs is not always better": the best checkpoint lives in `RUN_DIR/best`, with
    `best.json` saying at which step and with what score; `sample --checkpoint best` uses it.
    Each score is also logged to the history as an `eval` event.
    """

    def __init__(self, score, name: str, every: int = 1000):
        self.score = score  # score() -> float, on the current (EMA) generator
        self.name = name
        self.every = every
        self.manager = None
        self.best = None

    def on_train_begin(self, trainer):
        run_dir = Path(trainer.run_dir)
        self.info_path = run_dir / "best.json"
        if self.manager is None:
            self.manager = tf.train.CheckpointManager(
                tf.train.Checkpoint(**trainer.trackables()), run_dir / "best", max_to_keep=1)
        if self.info_path.exists() and self.manager.latest_checkpoint:
            self.best = json.loads(self.info_path.read_text())

    def evaluate(self, trainer):
        last = self.best and self.best.get("last_step")
        if not getattr(trainer, "healthy", True) or last == trainer.global_step:
            return
        value = float(self.score())
        trainer.log_event("eval", **{self.name: round(value, 5)})
        if self.best is None or value < self.best["value"]:
            self.manager.save(checkpoint_number=trainer.global_step)
            self.best = {"step": trainer.global_step, "metric": self.name, "value": value}
        self.best["last_step"] = trainer.global_step
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.best, indent=2))
        tmp.replace(self.info_path)

    def on_step_end(self, trainer, logs):
        if due(trainer, self.every):
            self.evaluate(trainer)

    def on_train_end(self, trainer):
        self.evaluate(trainer)


def restore_best(trainer) -> dict:
    """Load the best checkpoint of a run into its models; return best.json's record."""
    run_dir = Path(trainer.run_dir)
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(**trainer.trackables()), run_dir / "best", max_to_keep=1)
    if not (run_dir / "best.json").exists() or restore_from(
            manager, manager.checkpoint, run_dir) is None:
        raise FileNotFoundError(
            f"{run_dir} has no best checkpoint (it is kept every `sample_every` steps once "
            "a run has trained that long); use the latest checkpoint instead.")
    return json.loads((run_dir / "best.json").read_text())
