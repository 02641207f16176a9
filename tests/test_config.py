import os
import platform
import subprocess
import sys

import pytest

from ganlib import config
from ganlib.config import Settings


def test_defaults_from_empty_env():
    s = Settings.from_env({})
    assert s == Settings(smoke=False, seed=0, data_dir=None,
                         output_dir=config.DEFAULT_OUTPUT_DIR, offline=False)
    assert config.DEFAULT_OUTPUT_DIR == config.REPO_ROOT / "runs"  # not notebooks/runs


def test_parses_every_variable(tmp_path):
    env = {
        "GANLIB_SMOKE": "yes",
        "GANLIB_SEED": "42",
        "GANLIB_DATA_DIR": str(tmp_path / "data"),
        "GANLIB_OUTPUT_DIR": str(tmp_path / "out"),
        "GANLIB_OFFLINE": " TRUE ",
    }
    s = Settings.from_env(env)
    assert s.smoke is True
    assert s.seed == 42
    assert s.data_dir == tmp_path / "data"
    assert s.output_dir == tmp_path / "out"
    assert s.offline is True


@pytest.mark.parametrize("text, expected", [
    ("1", True), ("true", True), ("on", True), ("Yes", True),
    ("0", False), ("false", False), ("off", False), ("no", False), ("", False),
])  # fmt: skip
def test_flag_values(text, expected):
    assert Settings.from_env({"GANLIB_SMOKE": text}).smoke is expected
    assert Settings.from_env({"GANLIB_OFFLINE": text}).offline is expected


def test_data_dir_expands_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    s = Settings.from_env({"GANLIB_DATA_DIR": "~/datasets"})
    assert s.data_dir == tmp_path / "datasets"


@pytest.mark.parametrize("seed", ["abc", "1.5", ""])
def test_bad_seed_names_the_variable(seed):
    with pytest.raises(ValueError, match="GANLIB_SEED"):
        Settings.from_env({"GANLIB_SEED": seed})


@pytest.mark.parametrize("name", ["GANLIB_SMOKE", "GANLIB_OFFLINE"])
def test_bad_flag_names_the_variable(name):
    with pytest.raises(ValueError, match=name) as info:
        Settings.from_env({name: "maybe"})
    assert "maybe" in str(info.value)


def test_settings_rereads_the_environment(monkeypatch):
    monkeypatch.setenv("GANLIB_SEED", "7")
    assert config.settings().seed == 7
    monkeypatch.setenv("GANLIB_SEED", "8")
    assert config.settings().seed == 8


def test_conftest_keeps_outputs_out_of_the_repo():
    out = config.settings().output_dir.resolve()
    assert config.REPO_ROOT not in out.parents and out != config.REPO_ROOT


ONEDNN_CHECK = ("import ganlib\nfrom ganlib.bench.step import onednn_enabled\n"
                "print(onednn_enabled())")


@pytest.mark.skipif((platform.system(), platform.machine()) != ("Linux", "x86_64"),
                    reason="TensorFlow's oneDNN switch is tested on x86-64 Linux")
@pytest.mark.parametrize("env, expected", [(None, "True"), ("0", "False")])
def test_tensorflow_imported_after_ganlib_runs_on_onednn_unless_turned_off(env, expected):
    environ = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if env is not None:
        environ["TF_ENABLE_ONEDNN_OPTS"] = env
    out = subprocess.run([sys.executable, "-c", ONEDNN_CHECK], env=environ, capture_output=True,
                         text=True, timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == expected


@pytest.mark.skipif((platform.system(), platform.machine()) != ("Linux", "x86_64"),
                    reason="the oneDNN notice is TensorFlow's on x86-64 Linux")
@pytest.mark.parametrize("logs", [None, "1"])
def test_tensorflow_start_up_notices_stay_off_stderr_unless_asked_for(logs):
    """A notebook's first cell shows no oneDNN, CUDA or absl notices; GANLIB_TF_LOGS=1 keeps
    them (this TensorFlow prints at least the oneDNN one on start-up, as it loads)."""
    environ = {k: v for k, v in os.environ.items() if k != "GANLIB_TF_LOGS"}
    if logs:
        environ["GANLIB_TF_LOGS"] = logs
    code = "import ganlib, tensorflow as tf\nprint(int(tf.constant(1)))"
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                         text=True, timeout=300, check=True)
    assert out.stdout.strip() == "1"
    notices = [line for line in out.stderr.splitlines()
               if "oneDNN" in line or "cuda" in line.lower() or "absl" in line]
    assert bool(notices) == bool(logs), out.stderr
