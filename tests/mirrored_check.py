"""Run by tests/test_distribute.py in a fresh process (the CPU is split into two logical
devices before TensorFlow starts, which a pytest process that has run TF cannot do).

    python tests/mirrored_check.py OUT_DIR LESSON[:compare][+restore] ...

For each lesson: trains its smoke config for a few steps under `MirroredStrategy` on the two
logical CPUs. `compare`: also once on one device with the same seed and global batch, and
reports how far apart the two runs' losses and weights are. `restore`: whether the mirrored
run's checkpoint restores exactly on one device (and, with `compare`, the one-device run's
under two replicas). One JSON line per lesson.

Several processes may be given the same OUT_DIR and lessons: each lesson is run by the first
process to claim it (a file under OUT_DIR/claims), so they share the work.
"""

import dataclasses
import json
import sys
from pathlib import Path

from ganlib import distribute

DEVICES = distribute.split_cpu(2)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ganlib import lessons  # noqa: E402
from ganlib.checkpoints import KeepBest  # noqa: E402

STEPS = 4


def weights(run) -> dict:
    """Every network's weights, by position (layer names count up from build to build)."""
    return {f"{name}/{i}": np.array(w.numpy()) for name, model in run.models.items()
            for i, w in enumerate(model.weights)}


def train(module, cfg, run_dir, strategy, score: bool = True):
    """Build and fit a run under `strategy`. `score=False` drops its best-checkpoint score,
    which only reads the generator (the weights end the same) and costs seconds."""
    with strategy.scope():
        run = module.build(cfg, run_dir, fresh=True)
        if not score:
            run.trainer.callbacks = [c for c in run.trainer.callbacks
                                     if not isinstance(c, KeepBest)]
        start = weights(run)
        lessons.fit(run)
    return run, start


def restored(module, cfg, run_dir, strategy) -> dict:
    """The weights of the run in `run_dir` restored from its latest checkpoint under `strategy`."""
    with strategy.scope():
        run = module.build(cfg, run_dir)
        lessons.restore(run)
    return weights(run)


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def claim(out: Path, name: str) -> bool:
    """Whether this process takes `name`: true for the first process to ask (an exclusive
    create, which is atomic)."""
    (out / "claims").mkdir(parents=True, exist_ok=True)
    try:
        (out / "claims" / name).touch(exist_ok=False)
    except FileExistsError:
        return False
    return True


def uneven_batch_error(out: Path, strategy) -> str:
    """The error of a run whose global batch does not split among the replicas."""
    cfg = dataclasses.replace(lessons.get("sine").Config().smoke(), batch_size=5, steps=1)
    try:
        train(lessons.get("sine"), cfg, out / "uneven", strategy)
    except ValueError as e:
        return str(e)
    return ""


# a lesson's variant to check in place of its defaults: WGAN-GP's critic repeats and gradient
# penalty are where replicas could part from one device
VARIANTS = {"gan_losses": "wgan_gp"}


def main(out: Path, specs: list[str]) -> None:
    mirrored = tf.distribute.MirroredStrategy(DEVICES)  # one per process: collectives are shared
    if claim(out, "uneven"):
        print("RESULT " + json.dumps({"lesson": "uneven",
                                      "error": uneven_batch_error(out, mirrored)}), flush=True)
    for spec in specs:
        name, _, flags = spec.partition(":")
        if not claim(out, name):
            continue
        compare, restore = "compare" in flags, "restore" in flags
        module = lessons.get(name)
        variant = VARIANTS.get(name)
        cfg = (module.Config() if variant is None else module.LESSON.variant(variant)).smoke()
        changes = dict(steps=STEPS, minutes=None, checkpoint_every=2, log_every=1)
        changes["batch_size"] = 2 * max(1, cfg.batch_size // 2)  # splits evenly on 2 replicas
        if hasattr(cfg, "xla"):
            changes["xla"] = False  # XLA is off under several replicas: compare like with like
        if hasattr(cfg, "decay_steps"):
            changes["decay_steps"] = None
        cfg = dataclasses.replace(cfg, **changes)
        one_device = tf.distribute.get_strategy()
        if compare:
            # the reference: only its weights and losses are compared with the mirrored run's
            one, start = train(module, cfg, out / f"{name}-one", one_device, score=False)
        two, start_two = train(module, cfg, out / f"{name}-two", mirrored)
        result = {"lesson": name, "replicas": mirrored.num_replicas_in_sync,
                  "step": two.trainer.global_step,
                  "finite": bool(all(np.isfinite(r[k]) for r in two.history for k in r
                                     if k.endswith("_loss"))),
                  "checkpoints": sorted(p.name for p in (out / f"{name}-two" / "checkpoints")
                                        .glob("ckpt-*.index"))}
        if compare:
            a, b = weights(one), weights(two)
            result["same_start"] = same(start, start_two)
            # per weight tensor: how far apart the two runs end, over how far training moved it
            gaps = {k: float(np.linalg.norm(a[k] - b[k])
                             / max(float(np.linalg.norm(a[k] - start[k])), 1e-12)) for k in a}
            worst = max(gaps, key=gaps.get)
            result["worst_weight"] = worst
            result["worst_relative_gap"] = gaps[worst]
            result["moved_weights"] = sum(not np.array_equal(a[k], start[k]) for k in a)
            result["weights"] = len(a)
            first = [(one.history[0][k], two.history[0][k]) for k in one.history[0]
                     if k.endswith("_loss")]
            result["first_loss_gap"] = max(abs(x - y) / max(abs(x), 1e-3) for x, y in first)
        if restore:
            result["mirrored_restores_on_one"] = same(
                restored(module, cfg, out / f"{name}-two", one_device), weights(two))
        if restore and compare:
            result["one_restores_mirrored"] = same(
                restored(module, cfg, out / f"{name}-one", mirrored), weights(one))
        print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
