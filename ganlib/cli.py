"""`python -m ganlib train | sample | translate | evaluate | bench | judge`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

from . import config

# ganlib.precision.POLICIES, spelled out so that parsing arguments does not import Keras
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def _or(names) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def _parser() -> argparse.ArgumentParser:
    from . import lessons
    from .bench.quality import with_quality

    declared = [m.LESSON for m in lessons.LESSONS.values()]
    datasets = "; ".join(f"{d.name}: {', '.join(d.datasets)}" for d in declared if d.datasets)
    variants = "; ".join(f"{d.name}: {', '.join(d.variants)} (default {d.variants[0]})"
                         for d in declared if d.variants)
    p = argparse.ArgumentParser(prog="python -m ganlib", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a lesson's GAN into RUN_DIR")
    t.add_argument("lesson", help=_or(lessons.LESSONS))
    t.add_argument("--out", required=True, type=Path, help="run directory")
    start = t.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true",
                       help="continue the run in RUN_DIR from its latest checkpoint, with its "
                            "saved settings (a budget option sets the new total)")
    start.add_argument("--fresh", action="store_true",
                       help="delete what RUN_DIR holds and start over")
    t.add_argument("--dataset", help=f"dataset of an image lesson, its default first ({datasets})")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float)
    budget.add_argument("--epochs", type=float)
    budget.add_argument("--steps", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--batch-size", type=int, help="the global batch (split among replicas)")
    t.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    t.add_argument("--smoke", action="store_true", help="the tiny CI budget (as GANLIB_SMOKE=1)")
    t.add_argument("--variant", help=f"the variant to train ({variants})")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any field of the lesson's Config, e.g. --set width=64 --set "
                        "ema_decay=null (values are JSON; bare words are strings)")
    t.add_argument("--strategy", default="default",
                   choices=["default", "mirrored", "multiworker", "tpu"],
                   help="tf.distribute strategy: one device (default), every local GPU in "
                        "sync (mirrored), several machines (multiworker, roles from "
                        "TF_CONFIG) or a TPU; the batch size is the global batch")
    t.add_argument("--precision", choices=PRECISIONS,
                   help="mixed_float16 (GPU, with loss scaling) or mixed_bfloat16 (TPU, recent "
                        "CPUs) compute in 16 bits; weights and outputs stay float32 (default "
                        "float32; a resumed run keeps its own)")

    s = sub.add_parser("sample", help="write N samples of a trained run to an .npz")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--n", type=int, default=1000)
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--raw", action="store_true", help="sample the raw generator, not the EMA")
    s.add_argument("--checkpoint", choices=["latest", "best"], default="latest",
                   help="the latest checkpoint, or the best by the lesson's score")

    translators = [d.name for d in declared if d.translate is not None]
    tr = sub.add_parser("translate", help="map the `images` of an .npz through a trained "
                                          f"image-to-image generator ({_or(translators)})")
    tr.add_argument("run_dir", type=Path)
    tr.add_argument("--input", required=True, type=Path,
                    help=".npz with `images`, uint8 N x H x W x C of the size the run trained on")
    tr.add_argument("--out", required=True, type=Path)
    tr.add_argument("--direction", help="CycleGAN: AtoB (default) or BtoA")
    tr.add_argument("--checkpoint", choices=["latest", "best"], default="latest")

    e = sub.add_parser("evaluate", help="judge metrics of an .npz of samples, one JSON line")
    e.add_argument("file", type=Path)
    e.add_argument("--dataset", help="the dataset the images imitate (not needed for points)")

    b = sub.add_parser("bench", help="speed and quality figures")
    b.add_argument("what", choices=["step", "quality", "all"],
                   help="all: every lesson's images/s, peak memory and time to its target, "
                        "plus `step`")
    b.add_argument("lesson", nargs="?",
                   help=f"quality: the lesson, {_or(with_quality())} (default dcgan)")
    quality = {d.name: d.quality for d in declared if d.quality is not None}
    stepped = [name for name, q in quality.items() if q.steps]
    several = [f"{name} ({q.runs})" for name, q in quality.items() if q.runs]
    b.add_argument("--minutes", type=float,
                   help="training budget (all: per lesson, default 10; quality: per run, "
                        "default the bench's own)")
    b.add_argument("--steps", type=int,
                   help=f"quality of {_or(stepped)}: a step budget instead of --minutes "
                        "(the same training on every machine)")
    b.add_argument("--batch-size", type=int)
    b.add_argument("--runs", type=int, default=3,
                   help=f"quality of {_or(several)}: how many runs")
    b.add_argument("--first-run", type=int, default=0,
                   help=f"quality of {_or(several)}: the first seed or label draw "
                        "(default 0), to add runs to an earlier measurement")
    b.add_argument("--lessons", help="all: comma-separated lessons (default: every lesson)")
    b.add_argument("--out", type=Path, help="all: where bench_all.json and bench_all.md go "
                                            "(default: <output dir>/bench)")
    b.add_argument("--evaluations", type=int, default=8,
                   help="all: evaluations of each lesson's target metric within --minutes")
    b.add_argument("--skip-step", action="store_true", help="all: leave out `bench step`")
    b.add_argument("--precision", choices=PRECISIONS,
                   help="step: the step's dtype policy, and the matmul it is compared with "
                        "computes in the same dtype (default float32)")

    j = sub.add_parser("judge", help="train the judge classifier of a dataset into ganlib/judges")
    j.add_argument("--dataset", default="fashion_mnist")
    j.add_argument("--epochs", type=int, default=8)
    return p


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _has_checkpoints(run_dir: Path) -> bool:
    return (run_dir / "checkpoints" / "checkpoint").exists()


def _train_config(args, module):
    """The lesson config for `train`: defaults (or the saved run's, with --resume) + options."""
    from . import data, lessons

    for option in ("minutes", "epochs", "steps"):
        value = getattr(args, option)
        if value is not None and value <= 0:
            raise ValueError(f"--{option} must be positive, got {value}.")
    if args.checkpoint_every is not None and args.checkpoint_every < 1:
        raise ValueError("--checkpoint-every must be at least 1.")
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}.")
    declared = module.LESSON
    if args.variant and declared.variant is None:
        having = [n for n, m in lessons.LESSONS.items() if m.LESSON.variant is not None]
        raise ValueError(f"lesson {args.lesson} has no --variant option (only "
                         f"{_or(having)} has).")
    if args.variant and args.resume:
        raise ValueError("--variant contradicts --resume: a resumed run keeps the variant "
                         f"saved in {args.out}/config.json.")
    if args.resume:
        if not _has_checkpoints(args.out):
            raise FileNotFoundError(f"--resume: {args.out} holds no checkpoint to resume from. "
                                    "Leave out --resume to start a new run there.")
        if args.smoke:
            raise ValueError("--smoke contradicts --resume: a resumed run keeps the settings "
                             f"saved in {args.out}/config.json.")
        name, cfg = lessons.saved_config(args.out)
        if name != args.lesson:
            raise ValueError(f"--resume: {args.out} holds a {name!r} run, not {args.lesson!r}.")
        for option in ("seed", "dataset"):
            given = getattr(args, option)
            if given is not None and given != getattr(cfg, option, None):
                raise ValueError(
                    f"--{option} {given} contradicts --resume: the run in {args.out} was "
                    f"trained with {option}={getattr(cfg, option, None)!r}. Leave it out, or "
                    "start a new run.")
    else:
        if _has_checkpoints(args.out) and not args.fresh:
            raise FileExistsError(
                f"{args.out} already holds a run. Add --resume to continue it, --fresh to "
                "start over there, or choose another --out.")
        cfg = declared.variant(args.variant) if args.variant else module.Config()
        if args.smoke or config.settings().smoke:
            cfg = cfg.smoke()
    changes = _set_options(args.set, cfg, args.resume)
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.dataset:
        if not declared.datasets:
            raise ValueError(f"lesson {args.lesson} has no --dataset option (its data is "
                             "generated).")
        changes["dataset"] = args.dataset
    if args.checkpoint_every is not None:
        changes["checkpoint_every"] = args.checkpoint_every
    if args.batch_size is not None:
        changes["batch_size"] = args.batch_size
    if args.minutes is not None:
        changes.update(minutes=args.minutes, steps=None)
    if args.steps is not None:
        changes.update(steps=args.steps, minutes=None)
    if args.epochs is not None:
        name = getattr(cfg, "dataset", "sine")
        batch_size = changes.get("batch_size", cfg.batch_size)
        per_epoch = len(data.load(changes.get("dataset", name), "train")) // batch_size
        changes.update(steps=math.ceil(args.epochs * per_epoch), minutes=None)
    return dataclasses.replace(cfg, **changes)


def _set_options(pairs: list[str], cfg, resume: bool) -> dict:
    """`--set KEY=VALUE` pairs as Config changes, checked against the Config's fields."""
    from .lessons.base import BUDGET_FIELDS

    fields = {f.name for f in dataclasses.fields(cfg)}
    changes = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in fields:
            raise ValueError(f"--set {pair!r}: give KEY=VALUE with KEY one of the lesson's "
                             f"settings: {', '.join(sorted(fields))}.")
        if resume and key not in BUDGET_FIELDS:
            raise ValueError(f"--set {key} contradicts --resume: a resumed run keeps the "
                             "settings it was trained with.")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text  # a bare word: a string such as a loss's name
        current = getattr(cfg, key)
        if isinstance(current, tuple) and isinstance(value, list):
            value = tuple(value)  # JSON has lists, the Config tuples: (low, high) pairs
        numbers = (int, float)
        if not (value is None or current is None or type(value) is type(current) or (
                isinstance(current, float) and type(value) is int)):
            raise ValueError(f"--set {pair!r}: {key} takes a {type(current).__name__} like "
                             f"{json.dumps(current)}, not {json.dumps(value)}.")
        changes[key] = float(value) if isinstance(current, float) and isinstance(
            value, numbers) else value
    return changes


def train(args) -> int:
    from . import lessons
    from .distribute import WorkerDir, make_strategy
    from .precision import use

    module = lessons.get(args.lesson)
    strategy = make_strategy(args.strategy)  # first: multi-worker must precede other TF work
    cfg = _train_config(args, module)
    precision = args.precision or "float32"
    if args.resume:
        saved = lessons.saved_precision(args.out)
        if args.precision not in (None, saved):
            raise ValueError(f"--precision {args.precision} contradicts --resume: the run in "
                             f"{args.out} was trained with {saved}. Leave it out, or start a "
                             "new run.")
        precision = saved
    use(precision)
    with strategy.scope(), WorkerDir(args.out, strategy) as run_dir:
        run = module.build(cfg, run_dir, fresh=args.fresh)
        lessons.fit(run)
    last = next((r for r in reversed(run.history) if "event" not in r), {})
    print(json.dumps({"run_dir": str(args.out), "step": run.trainer.global_step,
                      **{k: v for k, v in last.items() if k != "step"}}))
    return 0


def _restored_run(run_dir: Path, which: str = "latest"):
    from . import lessons
    from .precision import use

    name, cfg = lessons.saved_config(run_dir)
    use(lessons.saved_precision(run_dir))
    run = lessons.get(name).build(cfg, run_dir)
    lessons.restore(run, which)
    return run


def draw(declared, g, n: int, seed: int) -> tuple[np.ndarray, dict]:
    """n samples of generator `g` of a lesson (`declared`: its `Lesson`), and what else the
    .npz keeps: a conditional lesson's classes in turn as `labels`; InfoGAN's categories in
    turn as `labels` and its continuous codes as `continuous`."""
    extra = {}
    if declared.inputs == "noise+class":
        from .models.conditional import generate, num_classes_of

        extra["labels"] = np.arange(n) % num_classes_of(g)
        out = generate(g, extra["labels"], seed=seed)
    elif declared.inputs == "noise+codes":
        from .models.infogan import code_sizes, draw_codes

        codes = draw_codes(g, n, seed, categories=np.arange(n) % code_sizes(g)[1])
        extra["labels"], extra["continuous"] = codes[1], codes[2]
        out = g.predict(codes, batch_size=500, verbose=0)
    else:
        from .lessons.evaluation import sample_unconditional

        out = sample_unconditional(g, n, seed)
    if declared.crop is not None:  # G draws a larger canvas: the dataset's size back
        out = declared.crop(out)
    return out, extra


def sample(args) -> int:
    from . import lessons
    from .data import to_uint8

    if args.n < 1:
        return _fail(f"--n must be at least 1, got {args.n}.")
    if args.out.suffix != ".npz":
        return _fail(f"--out must name an .npz file, got {args.out}.")
    name, _ = lessons.load_config(args.run_dir)
    declared = lessons.get(name).LESSON
    if not declared.samples:
        return _fail(f"{args.run_dir} holds a {name} run, whose generator takes images, not "
                     f"noise: use `python -m ganlib translate {args.run_dir} --input IN.npz "
                     "--out OUT.npz`.")
    run = _restored_run(args.run_dir, args.checkpoint)
    out, extra = draw(declared, run.generator(ema=not args.raw), args.n, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    if declared.output == "images":
        np.savez_compressed(tmp, images=to_uint8(out), **extra)
    else:
        np.savez_compressed(tmp, points=out.astype("f4"))
    tmp.replace(args.out)
    print(json.dumps({"out": str(args.out), "n": args.n, "step": run.trainer.global_step,
                      "checkpoint": args.checkpoint}))
    return 0


def _read_npz(path: Path) -> dict:
    """The arrays of an .npz file, or a clear error if it is missing or damaged."""
    import zipfile

    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist.")
    unreadable = (f"{path} is not a readable .npz file (an archive of named arrays); write "
                  "it with numpy.savez.")
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):  # np.load read one plain .npy array
                raise ValueError(unreadable)
            return dict(f)
    except ValueError as e:
        if "Object arrays" in str(e):
            raise ValueError(f"{path} holds Python objects, not numbers; save uint8 `images` "
                             "(or float `points`) with numpy.savez.") from None
        raise ValueError(unreadable) from None
    except (zipfile.BadZipFile, OSError, EOFError):
        raise ValueError(unreadable) from None


def translate(args) -> int:
    from . import lessons
    from .data import to_uint8

    if args.out.suffix != ".npz":
        return _fail(f"--out must name an .npz file, got {args.out}.")
    arrays = _read_npz(args.input)
    if "images" not in arrays:
        return _fail(f"{args.input} has no `images` array (it has {list(arrays)}).")
    name, _ = lessons.load_config(args.run_dir)
    declared = lessons.get(name).LESSON
    if declared.translate is None:
        translators = [n for n, m in lessons.LESSONS.items() if m.LESSON.translate is not None]
        return _fail(f"{args.run_dir} holds a {name!r} run, which does not translate images; "
                     f"translate runs {_or(translators)} runs.")
    run = _restored_run(args.run_dir, args.checkpoint)
    out = declared.translate(run, arrays["images"], direction=args.direction)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    np.savez_compressed(tmp, images=to_uint8(out))
    tmp.replace(args.out)
    print(json.dumps({"out": str(args.out), "n": int(len(out)), "step": run.trainer.global_step,
                      "checkpoint": args.checkpoint}))
    return 0


def evaluate(args) -> int:
    from . import metrics

    arrays = _read_npz(args.file)
    if "points" in arrays:
        points = arrays["points"]
        if points.ndim != 2 or points.shape[-1] != 2 or not len(points):
            return _fail(f"`points` in {args.file} must be N x 2 [x, y] rows with N >= 1, as "
                         f"`sample` writes for the sine lesson; got shape {points.shape}.")
        print(json.dumps(metrics.point_metrics(points)))
        return 0
    if "images" not in arrays:
        return _fail(f"{args.file} holds neither `images` nor `points` (it has {list(arrays)}).")
    if not args.dataset:
        return _fail("evaluate needs --dataset for images (e.g. --dataset fashion_mnist).")
    images = arrays["images"]
    if images.dtype != np.uint8:
        return _fail(f"`images` must be uint8 in [0, 255] as `sample` writes, got {images.dtype}.")
    if images.ndim != 4 or not len(images):
        return _fail(f"`images` in {args.file} must be N x H x W x C with N >= 1, as `sample` "
                     f"writes; got shape {images.shape}. Sample some with `python -m ganlib "
                     "sample RUN_DIR --n 1000 --out FILE.npz`.")
    labels = arrays.get("labels")
    if labels is not None and (labels.shape != (len(images),)
                               or not np.issubdtype(labels.dtype, np.integer)):
        return _fail(f"`labels` in {args.file} must hold one integer class per image "
                     f"({len(images)}); got shape {labels.shape}, {labels.dtype}.")
    if "continuous" in arrays:  # an InfoGAN's samples: `labels` are categories, not classes
        result = metrics.category_metrics(images, arrays["labels"], args.dataset)
        result["real"] = metrics.real_reference(args.dataset, min(len(images), 10_000))
    elif "labels" in arrays:  # samples of a conditional generator, with their intended classes
        result = metrics.conditional_metrics(images, arrays["labels"], args.dataset,
                                             coverage=True)
        per_class = int(np.bincount(arrays["labels"]).min())
        result["real"] = metrics.conditional_reference(args.dataset, per_class)
    else:
        result = metrics.image_metrics(images, args.dataset)
        result["real"] = metrics.real_reference(args.dataset, min(len(images), 10_000))
    print(json.dumps(result))
    return 0


def bench(args) -> int:
    if args.precision and args.what != "step":
        return _fail(f"--precision is for `bench step`; `bench {args.what}` runs float32.")
    if args.what == "all":
        from .bench import all as bench_all

        if args.lesson:
            return _fail(f"bench all takes its lessons as --lessons {args.lesson}[,...], not "
                         "as an argument.")
        minutes = 10.0 if args.minutes is None else args.minutes
        if minutes <= 0:
            return _fail(f"--minutes must be positive, got {minutes}.")
        if args.evaluations < 1:
            return _fail(f"--evaluations must be at least 1, got {args.evaluations}.")
        names = bench_all.parse_lessons(args.lessons)  # ValueError -> error: ..., exit 2
        out = args.out or config.settings().output_dir / "bench"
        report = bench_all.bench_all(names, minutes, out, args.evaluations,
                                     step=not args.skip_step)
        failed = [r for r in [*report["lessons"], report.get("step", {})] if "error" in r]
        return 1 if failed else 0
    from .bench.step import bench_step, print_json

    if args.what == "step":
        print_json(bench_step(args.batch_size, precision=args.precision or "float32"))
        return 0
    from .bench.quality import bench_quality

    lesson = args.lesson or "dcgan"
    # options it cannot take are a ValueError before any work: error: ..., exit 2
    print_json(bench_quality(lesson, minutes=args.minutes, steps=args.steps, runs=args.runs,
                             first_run=args.first_run))
    return 0


def judge(args) -> int:
    from . import metrics

    _, info = metrics.train_judge(args.dataset, epochs=args.epochs)
    print(json.dumps(info))
    return 0


def main(argv=None) -> int:
    from .lessons.registry import register_from_environment

    register_from_environment()
    args = _parser().parse_args(argv)
    from .checkpoints import CheckpointMismatch
    from .data import DataFileError, DatasetUnavailable, UnknownDataset
    from .data.download import ChecksumError
    from .runlock import RunBusy, RunDirNotWritable
    from .watchdog import TrainingDiverged

    try:
        return {"train": train, "sample": sample, "translate": translate, "evaluate": evaluate,
                "bench": bench, "judge": judge}[args.command](args)
    except (DatasetUnavailable, UnknownDataset, DataFileError, ChecksumError, FileNotFoundError,
            FileExistsError, KeyError, ValueError, CheckpointMismatch, RunBusy,
            RunDirNotWritable, TrainingDiverged) as e:
        return _fail(str(e).strip("'\""))
