"""What every lesson shares: a run directory, its callbacks and trainer, `fit()`, `restore()`.

A lesson module defines a `Config` (every knob, with CPU defaults and a `smoke()` variant) and
`build(config)`, which returns a `Run`: the step, the data, the callbacks and the models. The
notebook and `python -m ganlib train` both go through `build()` and `fit()`, so they run the
same thing.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np

from .. import config as ganlib_config
from .. import data, metrics, precision
from ..callbacks import EMA, Snapshots, TensorBoard
from ..checkpoints import Checkpoints, KeepBest, restore_best
from ..runlock import clear_contents, hold
from ..steps import GANStep
from ..trainer import Trainer
from ..watchdog import Watchdog


@dataclasses.dataclass
class Run:
    """A built lesson: everything `train()` needs, and what a notebook inspects afterwards."""

    config: object
    run_dir: Path
    trainer: Trainer
    models: dict
    snapshots: Snapshots | None = None

    @property
    def history(self) -> list[dict]:
        """The logged losses, one record per logged step."""
        return [r for r in self.trainer.history if "event" not in r]

    @property
    def events(self) -> list[dict]:
        """What else happened: `eval` scores, watchdog `rollback`s."""
        return [r for r in self.trainer.history if "event" in r]

    def generator(self, ema: bool = True):
        """The generator to sample from: the EMA copy when the run keeps one."""
        if ema and "ema_generator" in self.models:
            return self.models["ema_generator"]
        return self.models["generator"]


def run_dir_for(lesson: str, run_dir=None) -> Path:
    """The run directory: the one given, else `<output dir>/<lesson>`."""
    return ganlib_config.settings().output_dir / lesson if run_dir is None else Path(run_dir)


def assemble(lesson: str, cfg, run_dir: Path, step: GANStep, train_x: np.ndarray,
             n_snapshot: int, images: bool, score=None, fresh: bool = False,
             train_y: np.ndarray | None = None, batches=None, snapshot_codes=None,
             snapshot_inputs=None, older_runs: dict | None = None) -> Run:
    """The callbacks and trainer every GAN lesson shares, around a lesson's own step.

    score: (name, fn) where fn(generator) -> float rates a generator (lower is better); the
           run then keeps its best checkpoint by it. fresh: delete what the run directory
           holds first (refused while another process trains there).
    train_y: labels of a conditional lesson; batches are then (images, labels), and the fixed
           snapshot inputs are [noise, labels] with the classes in turn (0, 1, ..., 0, 1, ...).
    batches: start_step -> tf.data.Dataset, for a step that needs other batches than those of
           `train_x` (and `train_y`); like `data.batches`, the stream from `start_step` on
           must be what an uninterrupted run sees, so a resumed run gets the same data.
    snapshot_codes: G's inputs after the noise for the fixed snapshot inputs (arrays of
           `n_snapshot` rows), for a generator that takes more than noise and a label.
    snapshot_inputs: G's whole fixed snapshot input, for a generator that takes no noise
           (pix2pix's and CycleGAN's translate images).
    older_runs: the settings runs saved before a field existed trained with (the lesson's
           `LESSON.older_runs`), so that such a run resumes.
    Samples (snapshots, TensorBoard images, the score) come from the EMA generator when the
    run keeps one.
    """
    g = step.networks["generator"]
    models = dict(step.networks)
    callbacks = []
    if cfg.ema_decay:
        ema = EMA(g, cfg.ema_decay)
        models["ema_generator"] = ema.model
        callbacks.append(ema)
    loss = getattr(step, "loss", None)  # what "D has won" means depends on the loss
    callbacks.append(Watchdog(**(loss.watchdog_limits() if loss is not None else {})))
    sampler = models.get("ema_generator", g)
    if snapshot_inputs is not None:
        noise = snapshot_inputs
    else:
        latent_dim = int(g.inputs[0].shape[-1])
        noise = np.random.default_rng(cfg.seed).standard_normal((n_snapshot, latent_dim))
        noise = noise.astype("f4")
        if snapshot_codes is not None:
            noise = [noise, *snapshot_codes]
        elif train_y is not None:
            noise = [noise, np.arange(n_snapshot) % step.num_classes]
    snapshots = Snapshots(sampler, noise, every=cfg.sample_every, save_images=images)
    callbacks.append(snapshots)
    if score is not None:
        name, fn = score
        callbacks.append(KeepBest(lambda: fn(sampler), name, every=cfg.sample_every))
    if images:
        callbacks.append(TensorBoard(sampler, noise, image_every=cfg.sample_every))
    prepare_run_dir(cfg, run_dir, lesson, fresh, older_runs)
    if batches is None:
        stream = functools.partial(data.batches, train_x, cfg.batch_size, cfg.seed, y=train_y)

        def batches(start):
            return stream(start_step=start)

    trainer = Trainer(step, batches, run_dir, callbacks,
                      checkpoints=Checkpoints(cfg.checkpoint_every), log_every=cfg.log_every)
    return Run(cfg, run_dir, trainer, models, snapshots)


def load_labelled(dataset: str, split: str, needed_by: str, **kwargs) -> data.ArrayDataset:
    """A split of a dataset with class labels (checked), or a clear error naming `needed_by`,
    the kind of GAN that needs them (e.g. "a conditional GAN")."""
    from ..models.conditional import check_labels

    loaded = data.load(dataset, split, **kwargs)
    if loaded.y is None or loaded.num_classes < 2:
        raise ValueError(f"{dataset} has no class labels; {needed_by} needs them.")
    check_labels(loaded.y, loaded.num_classes, loaded.class_names)
    return loaded


def class_fid_score(dataset: str, num_classes: int, n_per_class: int, seed: int = 0):
    """The score conditional lessons keep their best checkpoint by: the mean over classes of
    the judge FID of each class's samples against the test images of that class (an image of
    the wrong class, or a class collapsed to a few images, raises it); None without a judge."""
    from ..models.conditional import generate

    if not metrics.judge_available(dataset):
        print(f"No judge for {dataset} yet, so this run keeps no best checkpoint; "
              f"`python -m ganlib judge --dataset {dataset}` trains one.")
        return None
    labels = np.arange(n_per_class * num_classes) % num_classes

    def score(generator) -> float:
        images = generate(generator, labels, seed=seed)
        per_class = metrics.conditional_metrics(images, labels, dataset, seed)["per_class"]
        return float(np.mean([c["fid"] for c in per_class.values()]))

    return ("class_fid", score)


# Settings that change how long or how verbosely a run trains, not what it trains: a run may
# be resumed with other values of these.
BUDGET_FIELDS = frozenset({"steps", "minutes", "log_every", "sample_every", "checkpoint_every"})


class RunMismatch(ValueError):
    """A run directory holds a run of another lesson or with other settings."""


def _normal(value):
    return json.loads(json.dumps(value))  # tuples -> lists, as config.json stores them


def prepare_run_dir(cfg, run_dir: Path, lesson: str, fresh: bool = False,
                    older_runs: dict | None = None) -> None:
    """Check that `cfg` may continue the run in `run_dir` (or clear it), then record `cfg`.

    Writing takes the run's lock (`ganlib.runlock.hold`); reading a run that another process
    trains (to sample it) writes nothing, so it needs no lock.
    """
    run_dir = Path(run_dir)
    if not fresh and run_dir.exists():
        check_resumable(cfg, run_dir, lesson, older_runs)
        if (run_dir / "config.json").exists() and load_config(run_dir, older_runs) == (
                lesson, _normal(dataclasses.asdict(cfg))):
            return
    hold(run_dir)
    if fresh:
        clear_contents(run_dir)
    save_config(cfg, run_dir, lesson)


def check_resumable(cfg, run_dir: Path, lesson: str, older_runs: dict | None = None) -> None:
    """Raise `RunMismatch` if `run_dir` has checkpoints of another lesson or other settings."""
    if not (run_dir / "config.json").exists() or not any((run_dir / "checkpoints").glob("*")):
        return
    saved_lesson, saved = load_config(run_dir, older_runs)
    how = ("Resume it with its own settings (`python -m ganlib train LESSON --out RUN_DIR "
           "--resume` reads them), start it afresh (FRESH_START = True in a notebook), or use "
           "another run directory.")
    if saved_lesson != lesson:
        raise RunMismatch(f"{run_dir} holds a {saved_lesson!r} run, not {lesson!r}. {how}")
    current = _normal(dataclasses.asdict(cfg))
    diffs = [f"{k}={saved.get(k)!r} there, {v!r} here" for k, v in current.items()
             if k not in BUDGET_FIELDS and saved.get(k) != v]
    if diffs:
        raise RunMismatch(f"{run_dir} holds a {lesson} run trained with other settings "
                          f"({'; '.join(diffs)}). {how}")


def save_config(cfg, run_dir: Path, lesson: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"lesson": lesson, "precision": precision.current(),
                               **dataclasses.asdict(cfg)}, indent=2))
    tmp.replace(path)


def _read_config(run_dir) -> dict:
    """RUN_DIR/config.json as saved (lesson, precision and the Config's fields), or a clear
    error for a missing or damaged file."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{run_dir} is not a ganlib run (no config.json); train one with "
            "`python -m ganlib train LESSON --out RUN_DIR`."
        )
    try:
        raw = json.loads(path.read_text())
        if isinstance(raw, dict) and "lesson" in raw:
            return raw
    except json.JSONDecodeError:
        pass
    raise RunMismatch(f"{path} is damaged (not a ganlib run config). Train the run "
                      "afresh, or restore the file.")


def load_config(run_dir, older_runs: dict | None = None) -> tuple[str, dict]:
    """(lesson, the Config's fields) of the run in `run_dir`, as it trained: a field its
    config.json lacks (saved before the field existed) takes `older_runs[field]`, the setting
    such runs trained with, where given (`registry.load_config` gives the lesson's own)."""
    raw = _read_config(run_dir)
    raw.pop("precision", None)  # how it computes, not what it trains: saved_precision()
    lesson = raw.pop("lesson")
    return lesson, {**(older_runs or {}), **raw}


def saved_precision(run_dir) -> str:
    """The dtype policy a run was trained with (see `ganlib.precision`); restore it with that."""
    return _read_config(run_dir).get("precision", "float32")


def fit(run: Run) -> Run:
    """Train a built run for its configured budget (steps or minutes)."""
    cfg = run.config
    run.trainer.fit(steps=cfg.steps, minutes=cfg.minutes if cfg.steps is None else None)
    return run


def restore(run: Run, which: str = "latest") -> int:
    """Load the latest (or the best) checkpoint of a run into its models; return its step."""
    run.trainer.load_history()
    if which == "best":
        restore_best(run.trainer)
        return run.trainer.global_step
    if which != "latest":
        raise ValueError(f"which checkpoint: 'latest' or 'best', not {which!r}.")
    checkpoints = run.trainer.checkpoints
    checkpoints.open(run.trainer, save_initial=False)
    if checkpoints.restored_from is None:
        raise FileNotFoundError(f"{run.run_dir} has no readable checkpoint to restore; train "
                                "the run (again) with `python -m ganlib train`.")
    return run.trainer.global_step


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (weights, data order) for a repeatable run."""
    import keras

    keras.utils.set_random_seed(seed)


# --- a learner's own pieces in place of the lesson's (`build(cfg, **overrides)`) -------------
def _shapes(tensors) -> list[tuple]:
    return [tuple(t.shape) for t in tensors]


def networks(lesson: str, overrides: dict, **builders) -> dict:
    """The networks of a lesson's run: each built by the lesson's own builder (name -> a
    function of no arguments), or the learner's `keras.Model` given in `overrides` under that
    name in its place, checked to take and give tensors of the shapes the lesson's own does.

    The lesson's own network is built either way, so the others draw the same random weights
    whether or not one is replaced.
    """
    import keras

    unknown = sorted(set(overrides) - set(builders))
    if unknown:
        raise TypeError(f"{lesson}.build() has no network {', '.join(map(repr, unknown))}; "
                        f"it builds {', '.join(builders)}, and takes step_class=.")
    built = {}
    for name, make in builders.items():
        own, given = make(), overrides.get(name)
        if given is None:
            built[name] = own
            continue
        if not isinstance(given, keras.Model):
            raise TypeError(f"{lesson}.build({name}=...) takes a keras.Model, not a "
                            f"{type(given).__name__}.")
        expected = (_shapes(own.inputs), _shapes(own.outputs))
        found = (_shapes(given.inputs), _shapes(given.outputs))
        if found != expected:
            raise ValueError(
                f"{lesson}.build({name}=...): the lesson's {name} takes inputs of shapes "
                f"{expected[0]} and gives outputs of shapes {expected[1]}; yours takes "
                f"{found[0]} and gives {found[1]}. Build yours for the same shapes "
                f"(`run.models[{name!r}].summary()` shows the lesson's own).")
        built[name] = given
    return built


def step_class(lesson: str, given, default: type) -> type:
    """The train step class of a lesson's run: the lesson's own, or the learner's subclass of
    it (which may override `losses()`; the constructor stays the lesson's)."""
    if given is None:
        return default
    if not (isinstance(given, type) and issubclass(given, default)):
        raise TypeError(f"{lesson}.build(step_class=...) takes a subclass of "
                        f"{default.__module__}.{default.__name__}, the lesson's own step "
                        f"(override its `losses()`), not {given!r}.")
    return given
