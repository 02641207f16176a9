"""What every lesson shares: a config dataclass, a run directory, and `train()`.

A lesson module defines a `Config` (every knob, with CPU defaults and a `smoke()` variant) and
`build(config)`, which returns a `Run`: the step, the data, the callbacks and the models. The
notebook and `python -m ganlib train` both go through `train()`, so they run the same thing.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .. import config as ganlib_config
from ..callbacks import Checkpoints, Snapshots
from ..trainer import Trainer


@dataclasses.dataclass
class Run:
    """A built lesson: everything `train()` needs, and what a notebook inspects afterwards."""

    config: object
    run_dir: Path
    trainer: Trainer
    models: dict
    snapshots: Snapshots | None = None

    @property
    def history(self):
        return self.trainer.history

    def generator(self, ema: bool = True):
        """The generator to sample from: the EMA copy when the run keeps one."""
        if ema and "ema_generator" in self.models:
            return self.models["ema_generator"]
        return self.models["generator"]


def default_run_dir(lesson: str) -> Path:
    return ganlib_config.settings().output_dir / lesson


def save_config(cfg, run_dir: Path, lesson: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"lesson": lesson, **dataclasses.asdict(cfg)}, indent=2))
    tmp.replace(path)


def load_config(run_dir) -> tuple[str, dict]:
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{run_dir} is not a ganlib run (no config.json); train one with "
            "`python -m ganlib train LESSON --out RUN_DIR`."
        )
    raw = json.loads(path.read_text())
    return raw.pop("lesson"), raw


def fit(run: Run) -> Run:
    """Train a built run for its configured budget (steps or minutes)."""
    cfg = run.config
    run.trainer.fit(steps=cfg.steps, minutes=cfg.minutes if cfg.steps is None else None)
    return run


def restore(run: Run) -> int:
    """Load the latest checkpoint of a run into its models; return the step it holds."""
    for cb in run.trainer.callbacks:
        if isinstance(cb, Checkpoints):
            cb.on_train_begin(run.trainer)
            if cb.restored_from is None:
                raise FileNotFoundError(f"{run.run_dir} has no checkpoint to restore.")
            return run.trainer.global_step
    raise ValueError("this run keeps no checkpoints")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (weights, data order) for a repeatable run."""
    import keras

    keras.utils.set_random_seed(seed)
