"""`bench all`: every lesson's speed, memory and time to its quality target, in one command.

Each lesson trains its default config in a worker process of its own
(`python -m ganlib.bench.all LESSON --minutes M --result FILE`), so the peak resident memory
it reports (`ru_maxrss`) is that lesson's alone: building, training and the evaluations. The
worker scores the run with the lesson's own `measure` at regular intervals of training time
(the clock stops while the bench evaluates; for a default with a step budget, at regular step
intervals too), stops at the first evaluation that meets the lesson's `target` or
after M minutes of training (or the default's own step budget, if that ends first), then times
its train step alone for images/s. Time to target is thus the training time, compiling
included, at the first evaluation that met it: an upper bound, to the evaluation interval.
The parent adds `bench step` (ganlib's step against the classic Keras loop, and the matmul
efficiency), writes `bench_all.json` and `bench_all.md` and prints the table. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import config as ganlib_config
from .. import lessons
from ..lessons.interface import Target
from ..timed_scores import TimedScores
from .step import bench_step


# --- the worker: one lesson, one process -----------------------------------------------------
class TargetWatch(TimedScores):
    """`TimedScores` of a lesson's target metric that also stops at the first score meeting
    `target`, which it keeps as `reached`."""

    def __init__(self, run, measure, target: Target, budget_s: float, every_s: float,
                 every_steps: int | None = None):
        self.target = target
        self.reached: dict | None = None
        super().__init__(lambda: measure(run), budget_s, every_s, every_steps, stop=self._met)

    def _met(self, record: dict) -> bool:
        record["met"] = self.target.met(record["value"])
        if record["met"] and self.reached is None:
            self.reached = record
        return record["met"]


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def device() -> str:
    """What the figures were measured on: the GPUs TensorFlow sees, else the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name)
                 for g in gpus]
        return f"GPU: {', '.join(names)}"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {model}, {os.cpu_count()} cores (no GPU visible to TensorFlow)"


def step_images_per_s(run, min_seconds: float, warmup: int = 3, min_steps: int = 5) -> dict:
    """Images/s of the run's train step alone (no callbacks), after `warmup` steps."""
    step, cfg = run.trainer.step, run.config
    batches = iter(run.trainer.batches(run.trainer.global_step))

    def one():
        return [v.numpy() for v in step(next(batches)).values()]

    for _ in range(warmup):
        one()
    steps, start = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - start < min_seconds:
        one()
        steps += 1
    seconds = time.perf_counter() - start
    return {"images_per_s": round(cfg.batch_size * steps / seconds, 1),
            "steps_timed": steps, "seconds_timed": round(seconds, 2)}


def run_lesson(lesson: str, minutes: float, out: Path, evaluations: int = 8) -> dict:
    """Train `lesson`'s default config (smoke with GANLIB_SMOKE=1) for up to `minutes` of
    training, scoring it `evaluations` times; the figures of `bench all` for this lesson."""
    module = lessons.get(lesson)
    declared = module.LESSON
    smoke = ganlib_config.settings().smoke
    cfg = module.Config().smoke() if smoke else module.Config()
    target = declared.target
    started = time.perf_counter()
    run = module.build(cfg, run_dir=out / "runs" / lesson, fresh=True)

    def measure(run):
        return declared.measure(run, smoke)

    run.trainer.progress = False
    build_seconds = time.perf_counter() - started
    budget_s = 60 * minutes
    # a step budget (sine, cyclegan) may end long before the time budget: score by steps too
    every_steps = max(1, cfg.steps // evaluations) if cfg.steps else None
    watch = TargetWatch(run, measure, target, budget_s, budget_s / evaluations, every_steps)
    run.trainer.callbacks.append(watch)  # last: it sees the step after EMA and the rest
    if cfg.steps is not None:  # a step budget (e.g. a schedule over it) ends the run too
        run.trainer.fit(steps=cfg.steps)
    else:  # the watch ends it; the trainer's own clock also counts the evaluations
        run.trainer.fit(minutes=minutes * 10 + 10)
    train_seconds = watch.train_seconds()
    watch.finish(run.trainer)  # the step budget may have ended between two evaluations
    run.trainer.callbacks.remove(watch)
    steps = run.trainer.global_step
    speed = step_images_per_s(run, min_seconds=1.0 if smoke else 10.0)
    reached = watch.reached
    return {
        "lesson": lesson, "smoke": smoke, "device": device(),
        "batch_size": cfg.batch_size, "unit": declared.unit, **speed,
        "peak_rss_mib": peak_rss_mib(),
        "target": {**dataclasses.asdict(target), "text": target.text()},
        "reached": reached is not None,
        "time_to_target_s": reached["train_seconds"] if reached else None,
        "step_at_target": reached["step"] if reached else None,
        "best_value": (min if target.op == "<=" else max)(
            e["value"] for e in watch.evaluations),
        "budget_minutes": minutes, "build_seconds": round(build_seconds, 1),
        "train_seconds": round(train_seconds, 1), "steps": steps,
        # the whole loop's rate: compiling, callbacks (EMA, snapshots, checkpoints) included
        "loop_images_per_s": round(cfg.batch_size * steps / max(train_seconds, 1e-9), 1),
        "evaluations": watch.evaluations,
        "config": json.loads(json.dumps(dataclasses.asdict(cfg))),
    }  # fmt: skip


# --- the parent: every lesson, bench step, the files ------------------------------------------
def parse_lessons(text: str | None) -> list[str]:
    """The lessons of `--lessons a,b` (all when None), or a ValueError naming the valid ones."""
    if text is None:
        return list(lessons.LESSONS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in lessons.LESSONS]
    valid = f"choose from {', '.join(lessons.LESSONS)} (comma-separated)"
    if not names:
        raise ValueError(f"--lessons names no lesson; {valid}.")
    if unknown:
        raise ValueError(f"--lessons: unknown lesson(s) {', '.join(map(repr, unknown))}; "
                         f"{valid}.")
    return list(dict.fromkeys(names))


def _worker(lesson: str, minutes: float, out: Path, evaluations: int) -> dict:
    """Run one lesson in a child process; its figures, or what went wrong."""
    log = out / f"{lesson}.log"
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "ganlib.bench.all", lesson, "--minutes", str(minutes),
                   "--out", str(out), "--evaluations", str(evaluations), "--result", str(result)]
        started = time.perf_counter()
        with open(log, "w") as stream:
            try:
                done = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT,
                                      timeout=60 * minutes * 4 + 900)
                rc = done.returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        if rc == 0 and result.exists():
            return {**json.loads(result.read_text()),
                    "process_seconds": round(time.perf_counter() - started, 1)}
    tail = log.read_text().splitlines()[-5:]
    return {"lesson": lesson, "error": f"worker exited with {rc}; see {log}", "log_tail": tail}


def _fmt_time(r: dict) -> str:
    if "error" in r:
        return "failed"
    if r["reached"]:
        return f"{r['time_to_target_s'] / 60:.1f} min (step {r['step_at_target']})"
    best = r["best_value"]
    return f"not reached in {r['budget_minutes']:g} min (best {best:g}; {r['steps']} steps)"


def markdown(report: dict) -> str:
    """The table of `bench all`, with the device and `bench step` beneath."""
    lines = [f"`bench all` on {report['device']}, {report['date']}, up to "
             f"{report['minutes']:g} min of training per lesson"
             + (" (smoke configs)" if report["smoke"] else "") + ".", "",
             "| lesson | images/s (train step) | peak RSS MiB | time to target | target |",
             "|---|---|---|---|---|"]
    for r in report["lessons"]:
        if "error" in r:
            lines.append(f"| {r['lesson']} | failed | | {r['error']} | |")
            continue
        cells = [r["lesson"], f"{r['images_per_s']:g} ({r['unit']}, batch {r['batch_size']})",
                 f"{r['peak_rss_mib']:.0f}", _fmt_time(r), r["target"]["text"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    step = report.get("step")
    if step and "error" in step:
        lines += ["", f"`bench step` failed: {step['error'].splitlines()[0]}"]
    elif step:
        onednn = {True: "on", False: "off"}.get(step.get("onednn"), "unknown")
        lines += ["", f"`bench step` (lesson 02's models, batch {step['batch_size']}, "
                      f"TensorFlow's oneDNN kernels {onednn}): ganlib "
                      f"{step['ganlib_images_per_s']:g} images/s, classic Keras loop "
                      f"{step['classic_images_per_s']:g} ({step['speedup']:g}x); "
                      f"{step['step_gflops_per_s']:g} GFLOP/s, {step['matmul_efficiency']:g} "
                      f"of a {step.get('matmul_dtype', 'float32')} matmul's "
                      f"{step['matmul_gflops_per_s']:g} GFLOP/s; the "
                      f"input pipeline adds {100 * step['input_overhead']:.1f}% to the step "
                      f"({step['step_ms_with_data']:g} ms with data, "
                      f"{step['step_ms_without_data']:g} ms on a batch in memory)."]
        if "heaviest_layer" in step:
            lines += ["", f"The step's heaviest layer ({step['heaviest_layer']}) alone, forward "
                          f"and backward: {step['heaviest_layer_gflops_per_s']:g} GFLOP/s, "
                          f"{step['heaviest_layer_matmul_efficiency']:g} of the matmul; the step "
                          f"reaches {step['step_share_of_heaviest_layer']:g} of that."]
    return "\n".join(lines) + "\n"


def bench_all(lesson_names: list[str], minutes: float, out: Path, evaluations: int = 8,
              step: bool = True) -> dict:
    """`bench all`: every lesson in a worker, then `bench step`; writes the JSON and table."""
    out.mkdir(parents=True, exist_ok=True)
    smoke = ganlib_config.settings().smoke
    report = {"bench": "all", "device": device(), "smoke": smoke, "minutes": minutes,
              "date": datetime.datetime.now().isoformat(timespec="seconds"), "lessons": []}
    for lesson in lesson_names:
        print(f"bench all: {lesson} ...", file=sys.stderr, flush=True)
        report["lessons"].append(_worker(lesson, minutes, out, evaluations))
    (out / "bench_all.json").write_text(json.dumps(report, indent=2))  # kept if step fails
    if step:
        try:
            report["step"] = bench_step(**({"repeats": 3, "matmul_n": 512} if smoke else {}))
        except Exception as e:  # the lessons' figures above still count; say what failed
            report["step"] = {"error": f"{type(e).__name__}: {e}"}
        (out / "bench_all.json").write_text(json.dumps(report, indent=2))
    table = markdown(report)
    (out / "bench_all.md").write_text(table)
    print(table, flush=True)
    return report


def main(argv=None) -> int:
    """The worker's entry point: one lesson, its figures as JSON in --result."""
    lessons.registry.register_from_environment()
    p = argparse.ArgumentParser(prog="python -m ganlib.bench.all", description=__doc__)
    p.add_argument("lesson", choices=list(lessons.LESSONS))
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--evaluations", type=int, default=8)
    p.add_argument("--result", type=Path, required=True)
    args = p.parse_args(argv)
    result = run_lesson(args.lesson, args.minutes, args.out, args.evaluations)
    args.result.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
