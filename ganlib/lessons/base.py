"""What every lesson shares: a run directory, its callbacks and trainer, `fit()`, `restore()`.

A lesson module defines a `Config` (every knob, with CPU defaults and a `smoke()` variant) and
`build(config)`, which returns a `Run`: the step, the data, the callbacks and the models. The
notebook and `python -m ganlib train` both go through `build()` and `fit()`, so they run the
same thing.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from .. import config as ganlib_config
from .. import data
from ..callbacks import EMA, Checkpoints, Snapshots, TensorBoard
from ..steps import GANStep
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


def run_dir_for(lesson: str, run_dir=None) -> Path:
    """The run directory: the one given, else `<output dir>/<lesson>`."""
    return ganlib_config.settings().output_dir / lesson if run_dir is None else Path(run_dir)


def assemble(lesson: str, cfg, run_dir: Path, step: GANStep, train_x: np.ndarray,
             n_snapshot: int, images: bool) -> Run:
    """The callbacks and trainer every GAN lesson shares, around a lesson's own step.

    Checkpoints come first so the run is restored before the others look at it; samples
    (snapshots, TensorBoard images) come from the EMA generator when the run keeps one.
    """
    g = step.networks["generator"]
    models = dict(step.networks)
    callbacks = [Checkpoints(cfg.checkpoint_every)]
    if cfg.ema_decay:
        ema = EMA(g, cfg.ema_decay)
        models["ema_generator"] = ema.model
        callbacks.append(ema)
    sampler = models.get("ema_generator", g)
    latent_dim = int(g.inputs[0].shape[-1])
    noise = np.random.default_rng(cfg.seed).standard_normal((n_snapshot, latent_dim))
    snapshots = Snapshots(sampler, noise.astype("f4"), every=cfg.sample_every,
                          save_images=images)
    callbacks.append(snapshots)
    if images:
        callbacks.append(TensorBoard(sampler, noise, image_every=cfg.sample_every))
    save_config(cfg, run_dir, lesson)
    trainer = Trainer(step, data.batches(train_x, cfg.batch_size, seed=cfg.seed), run_dir,
                      callbacks, log_every=cfg.log_every)
    return Run(cfg, run_dir, trainer, models, snapshots)


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
