"""tf.distribute: the strategy helpers, mirrored runs of every lesson on two logical CPUs
(matching a one-device run), checkpoints across replica counts, multi-worker on loopback."""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ganlib import cli, distribute, lessons
from ganlib.lessons import sine

ROOT = Path(__file__).resolve().parents[1]
# seconds: a hung collective must fail the test, not stall CI, while the every-lesson mirrored
# run needs room on a slow 2-core CPU without AVX-512
TIMEOUT = 1800


def _env(tmp_path, **extra) -> dict:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "GANLIB_SMOKE": "1", "TMPDIR": str(scratch),
            **extra}


def _results(output: str) -> dict:
    lines = [json.loads(line[len("RESULT "):]) for line in output.splitlines()
             if line.startswith("RESULT ")]
    return {r["lesson"]: r for r in lines}


# --- helpers, one device ------------------------------------------------------------------
def test_make_strategy_by_name():
    assert distribute.make_strategy("default").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="Unknown strategy 'ring'.*mirrored"):
        distribute.make_strategy("ring")


@pytest.mark.parametrize("tf_config, why", [
    (None, "needs TF_CONFIG, which is not set"),
    ("{not json", "not a cluster spec"),
    ('{"cluster": {"worker": ["localhost:1"]}}', "not a cluster spec"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 1}}',
     "not one of its cluster's chief or workers"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "ps", "index": 0}}',
     "not one of its cluster's chief or workers"),
])  # fmt: skip
def test_multiworker_needs_a_valid_tf_config(monkeypatch, tf_config, why):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(distribute.StrategyUnavailable, match=why):
        distribute.make_strategy("multiworker")


def test_cli_strategy_errors_are_clear(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    code = cli.main(["train", "sine", "--out", str(tmp_path / "run"), "--strategy",
                     "multiworker"])
    assert code == 2
    assert "TF_CONFIG" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing written before the strategy is made


def test_cli_batch_size_is_the_global_batch(tmp_path, capsys):
    assert cli.main(["train", "sine", "--out", str(tmp_path / "bad"), "--batch-size", "0"]) == 2
    assert "--batch-size must be at least 1" in capsys.readouterr().err
    out = tmp_path / "run"
    assert cli.main(["train", "sine", "--out", str(out), "--steps", "5", "--batch-size",
                     "40"]) == 0
    assert json.loads((out / "config.json").read_text())["batch_size"] == 40


def test_replica_helpers_on_one_device():
    x = tf.reshape(tf.range(12, dtype=tf.float32), [4, 3])
    assert np.array_equal(distribute.replica_rows(lambda m: x[:m], 4), x)
    assert np.allclose(distribute.batch_mean(x), tf.reduce_mean(x, 0))
    assert distribute.is_chief() and not distribute.batch_norm_synchronized()


def test_worker_dir_is_the_run_dir_on_the_chief(tmp_path):
    with distribute.WorkerDir(tmp_path / "run") as run_dir:
        assert run_dir == tmp_path / "run"


def test_another_worker_resumes_from_a_copy_of_everything_the_chief_decides_by(tmp_path):
    class NotChief:  # what multi-worker gives every worker but the chief
        class extended:
            should_checkpoint = False

    run = tmp_path / "run"
    for name in ("checkpoints/checkpoint", "best/checkpoint", "best.json", "config.json",
                 "history.jsonl"):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(name)
    with distribute.WorkerDir(run, NotChief()) as scratch:
        assert scratch != run
        # the best record decides whether a step saves a new best, and saving is collective
        for name in ("checkpoints/checkpoint", "best/checkpoint", "best.json", "config.json"):
            assert (scratch / name).read_text() == name
        assert not (scratch / "history.jsonl").exists()  # the chief's alone
    assert not scratch.exists() and (run / "best.json").exists()


# --- two logical CPUs -----------------------------------------------------------------------
# `:compare` lessons draw all their randomness from the step's stateless seed, so the mirrored
# run must match the one-device run; sgan (Gaussian-noise layers) and pix2pix (dropout) draw
# from Keras's per-replica RNG, so for them it must only train.
SPECS = ["sine:compare", "dcgan:compare+restore", "cgan:compare", "infogan:compare",
         "acgan:compare", "sgan", "pix2pix", "cyclegan:restore", "gan_losses:compare",
         "srgan:compare", "stylegan:compare+restore"]
# Processes sharing the lessons (mirrored_check.py's claims), since tracing a step, most of
# the work, keeps about one core busy.
WORKERS = 2


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mirrored")
    # the later lessons take longest to build and trace: first, so the processes end together
    command = [sys.executable, str(ROOT / "tests" / "mirrored_check.py"), str(tmp / "runs"),
               *reversed(SPECS)]
    logs = [(tmp / f"worker-{i}.out", tmp / f"worker-{i}.err") for i in range(WORKERS)]
    procs = []
    try:
        for out, err in logs:  # files, not pipes, which a process waited on later could fill
            with open(out, "w") as stdout, open(err, "w") as stderr:
                procs.append(subprocess.Popen(command, env=_env(tmp), cwd=ROOT, stdout=stdout,
                                              stderr=stderr))
        deadline = time.monotonic() + TIMEOUT
        for p in procs:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for p in procs:
            p.kill()
            p.wait()
    for p, (_, err) in zip(procs, logs):
        assert p.returncode == 0, err.read_text()[-3000:]
    return _results("".join(out.read_text() for out, _ in logs))


@pytest.mark.parametrize("lesson", [s.split(":")[0] for s in SPECS])
def test_every_lesson_trains_and_checkpoints_on_two_replicas(mirrored, lesson):
    result = mirrored[lesson]
    assert result["replicas"] == 2 and result["step"] == 4 and result["finite"]
    assert result["checkpoints"] == ["ckpt-2.index", "ckpt-4.index"]


def test_a_batch_that_does_not_split_evenly_is_refused(mirrored):
    assert "global batch of 5 does not split evenly among 2 replicas" in mirrored["uneven"]["error"]


@pytest.mark.parametrize("lesson", [s.split(":")[0] for s in SPECS if "compare" in s])
def test_mirrored_run_matches_one_device(mirrored, lesson):
    """Same seed and global batch: the same first losses, and weights that end up where a
    one-device run's do, up to float rounding amplified by Adam over a few steps (measured
    at most 0.07 of the distance the weights moved; 1.1 to 2.6 when the replicas draw their
    own noise, as before the fix)."""
    result = mirrored[lesson]
    assert result["same_start"]
    # what stays put: a Wasserstein critic's output bias (no gradient, it cancels in f - r)
    # and StyleGAN's 7 fixed noise maps (G's sampling noise, not trained)
    still = {"gan_losses": 1, "stylegan": 7}.get(lesson, 0)
    assert result["moved_weights"] == result["weights"] - still
    assert result["first_loss_gap"] < 1e-5
    assert result["worst_relative_gap"] < 0.2, result


@pytest.mark.parametrize("lesson", [s.split(":")[0] for s in SPECS if "restore" in s])
def test_checkpoints_restore_under_another_number_of_replicas(mirrored, lesson):
    result = mirrored[lesson]
    assert result["mirrored_restores_on_one"]
    assert result.get("one_restores_mirrored", True)


# --- two workers on loopback ----------------------------------------------------------------
def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _train(tmp_path, out: Path, *options, workers: int = 1) -> list[str]:
    command = [sys.executable, "-m", "ganlib", "train", "sine", "--out", str(out), *options]
    if workers == 1:
        done = subprocess.run(command, env=_env(tmp_path), cwd=ROOT, capture_output=True,
                              text=True, timeout=TIMEOUT)
        assert done.returncode == 0, done.stderr[-3000:]
        return [done.stdout]
    hosts = [f"localhost:{p}" for p in _free_ports(workers)]
    procs = [subprocess.Popen(
        [*command, "--strategy", "multiworker"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env=_env(tmp_path, TF_CONFIG=json.dumps(
            {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}})))
        for i in range(workers)]
    outputs = []
    try:
        for p in procs:
            out_text, err_text = p.communicate(timeout=TIMEOUT)
            assert p.returncode == 0, err_text[-3000:]
            outputs.append(out_text)
    finally:
        for p in procs:
            p.kill()
    return outputs


def _checkpoint(run_dir: Path, step: int) -> dict:
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints" / f"ckpt-{step}"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if "OBJECT_GRAPH" not in name}


def test_multiworker_run_trains_checkpoints_and_resumes(tmp_path):
    run = tmp_path / "run"
    outputs = _train(tmp_path, run, "--steps", "20", "--checkpoint-every", "10", workers=2)
    finals = [json.loads(o.strip().splitlines()[-1]) for o in outputs]
    assert [f["step"] for f in finals] == [20, 20]
    assert finals[0]["generator_loss"] == finals[1]["generator_loss"]  # one run, two workers
    assert (run / "checkpoints" / "ckpt-20.index").exists()
    assert not any((tmp_path / "tmp").glob("ganlib-worker-*"))  # the other's scratch is gone

    # the same global batch and seed on one device: the same run (without XLA, which is off
    # under several replicas and rounds differently; Adam turns that into lr-sized gaps)
    single = tmp_path / "single"
    cfg = dataclasses.replace(sine.Config().smoke(), steps=20, checkpoint_every=10, xla=False)
    lessons.fit(sine.build(cfg, single))
    both, alone = _checkpoint(run, 20), _checkpoint(single, 20)
    assert both.keys() == alone.keys()
    weights = [k for k in both if np.issubdtype(both[k].dtype, np.floating)]
    assert any("_trainable_variables" in k for k in weights)  # the networks' weights are there
    for k in weights:  # weights, Adam's moments, the EMA copy
        np.testing.assert_allclose(both[k], alone[k], atol=1e-4, err_msg=k)

    # every worker resumes from the chief's checkpoint
    outputs = _train(tmp_path, run, "--steps", "30", "--resume", workers=2)
    assert [json.loads(o.strip().splitlines()[-1])["step"] for o in outputs] == [30, 30]
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in history if "event" not in r]
    assert steps == sorted(set(steps)) and steps[-1] == 30
