"""`python -m ganlib train | sample | evaluate | bench | judge`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

from . import config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ganlib", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a lesson's GAN into RUN_DIR (resumes if it exists)")
    t.add_argument("lesson", help="sine or dcgan")
    t.add_argument("--out", required=True, type=Path, help="run directory")
    t.add_argument("--dataset", help="dataset for image lessons (fashion_mnist, mnist)")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float)
    budget.add_argument("--epochs", type=float)
    budget.add_argument("--steps", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--smoke", action="store_true", help="the tiny CI budget (as GANLIB_SMOKE=1)")

    s = sub.add_parser("sample", help="write N samples of a trained run to an .npz")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--n", type=int, default=1000)
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--raw", action="store_true", help="sample the raw generator, not the EMA")

    e = sub.add_parser("evaluate", help="judge metrics of an .npz of samples, one JSON line")
    e.add_argument("file", type=Path)
    e.add_argument("--dataset", help="the dataset the images imitate (not needed for points)")

    b = sub.add_parser("bench", help="speed and quality figures")
    b.add_argument("what", choices=["step", "quality"])
    b.add_argument("lesson", nargs="?", default="dcgan")
    b.add_argument("--minutes", type=float, default=10.0)
    b.add_argument("--batch-size", type=int)

    j = sub.add_parser("judge", help="train the judge classifier of a dataset into ganlib/judges")
    j.add_argument("--dataset", default="fashion_mnist")
    j.add_argument("--epochs", type=int, default=8)
    return p


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def train(args) -> int:
    from . import data, lessons

    module = lessons.get(args.lesson)
    cfg = module.Config()
    if args.smoke or config.settings().smoke:
        cfg = cfg.smoke()
    changes = {}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.dataset:
        if not hasattr(cfg, "dataset"):
            return _fail(f"lesson {args.lesson} has no --dataset option (its data is generated).")
        changes["dataset"] = args.dataset
    if args.minutes is not None:
        changes.update(minutes=args.minutes, steps=None)
    if args.steps is not None:
        changes.update(steps=args.steps, minutes=None)
    if args.epochs is not None:
        name = getattr(cfg, "dataset", "sine")
        per_epoch = len(data.load(changes.get("dataset", name), "train")) // cfg.batch_size
        changes.update(steps=math.ceil(args.epochs * per_epoch), minutes=None)
    cfg = dataclasses.replace(cfg, **changes)
    run = module.build(cfg, args.out)
    lessons.fit(run)
    last = run.history[-1] if run.history else {}
    print(json.dumps({"run_dir": str(args.out), "step": run.trainer.global_step,
                      **{k: v for k, v in last.items() if k != "step"}}))
    return 0


def _restored_run(run_dir: Path):
    from . import lessons

    name, raw = lessons.load_config(run_dir)
    module = lessons.get(name)
    fields = {f.name for f in dataclasses.fields(module.Config)}
    run = module.build(module.Config(**{k: v for k, v in raw.items() if k in fields}), run_dir)
    lessons.restore(run)
    return run


def sample(args) -> int:
    from .data import to_uint8

    run = _restored_run(args.run_dir)
    g = run.generator(ema=not args.raw)
    z = np.random.default_rng(args.seed).standard_normal((args.n, g.inputs[0].shape[-1]))
    out = g.predict(z.astype("f4"), batch_size=500, verbose=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    if out.ndim == 4:
        np.savez_compressed(tmp, images=to_uint8(out))
    else:
        np.savez_compressed(tmp, points=out.astype("f4"))
    tmp.replace(args.out)
    print(json.dumps({"out": str(args.out), "n": args.n, "step": run.trainer.global_step}))
    return 0


def evaluate(args) -> int:
    from . import metrics

    with np.load(args.file, allow_pickle=False) as f:
        arrays = dict(f)
    if "points" in arrays:
        print(json.dumps(metrics.point_metrics(arrays["points"])))
        return 0
    if "images" not in arrays:
        return _fail(f"{args.file} holds neither `images` nor `points` (it has {list(arrays)}).")
    if not args.dataset:
        return _fail("evaluate needs --dataset for images (e.g. --dataset fashion_mnist).")
    images = arrays["images"]
    if images.dtype != np.uint8:
        return _fail(f"`images` must be uint8 in [0, 255] as `sample` writes, got {images.dtype}.")
    result = metrics.image_metrics(images, args.dataset)
    result["real"] = metrics.real_reference(args.dataset, min(len(images), 10_000))
    print(json.dumps(result))
    return 0


def bench(args) -> int:
    from . import bench as b

    if args.what == "step":
        b.print_json(b.bench_step(args.batch_size))
    elif args.lesson == "dcgan":
        b.print_json(b.bench_quality_dcgan(args.minutes))
    else:
        return _fail(f"no quality benchmark for lesson {args.lesson!r} yet; use dcgan.")
    return 0


def judge(args) -> int:
    from . import metrics

    _, info = metrics.train_judge(args.dataset, epochs=args.epochs)
    print(json.dumps(info))
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .data import DataFileError, DatasetUnavailable, UnknownDataset

    try:
        return {"train": train, "sample": sample, "evaluate": evaluate, "bench": bench,
                "judge": judge}[args.command](args)
    except (DatasetUnavailable, UnknownDataset, DataFileError, FileNotFoundError, KeyError,
            ValueError) as e:
        return _fail(str(e).strip("'\""))
