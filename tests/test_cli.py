import contextlib
import io
import json

import numpy as np
import pytest
from cli_output import last_json

from ganlib import cli, config


@pytest.fixture(scope="module")
def sine_run(tmp_path_factory):
    """`train sine --steps 100` once for the module; returns (run_dir, printed JSON)."""
    run_dir = tmp_path_factory.mktemp("cli") / "sine"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["train", "sine", "--out", str(run_dir), "--steps", "100"])
    assert code == 0
    return run_dir, last_json(buf.getvalue())


def test_train_sine(sine_run):
    run_dir, result = sine_run
    assert result["run_dir"] == str(run_dir) and result["step"] == 100
    assert {"discriminator_loss", "generator_loss"} <= set(result)
    assert (run_dir / "config.json").exists()
    assert json.loads((run_dir / "config.json").read_text())["steps"] == 100
    assert (run_dir / "checkpoints" / "checkpoint").exists()


def test_sample_and_evaluate_points(sine_run, tmp_path, capsys):
    run_dir, _ = sine_run
    out = tmp_path / "nested" / "f.npz"
    assert cli.main(["sample", str(run_dir), "--n", "50", "--out", str(out)]) == 0
    printed = last_json(capsys.readouterr().out)
    assert printed == {"out": str(out), "n": 50, "step": 100, "checkpoint": "latest"}
    with np.load(out) as f:
        assert list(f) == ["points"]
        points = f["points"]
    assert points.shape == (50, 2) and points.dtype == np.float32
    assert np.isfinite(points).all()
    assert not list(out.parent.glob("*.tmp*"))

    assert cli.main(["evaluate", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["n"] == 50 and 0 <= result["mean_abs_error"] < 3
    assert {"coverage", "x_w1", "outside_range"} <= set(result)


def test_sample_is_seeded_and_raw_differs(sine_run, tmp_path):
    run_dir, _ = sine_run
    paths = {name: tmp_path / f"{name}.npz" for name in ("a", "b", "raw")}
    assert cli.main(["sample", str(run_dir), "--n", "20", "--out", str(paths["a"])]) == 0
    assert cli.main(["sample", str(run_dir), "--n", "20", "--out", str(paths["b"])]) == 0
    assert cli.main(["sample", str(run_dir), "--n", "20", "--out", str(paths["raw"]),
                     "--raw"]) == 0
    a, b, raw = (np.load(p)["points"] for p in paths.values())
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, raw)  # the EMA generator is not the raw one


def test_train_sine_with_a_dataset_fails(tmp_path, capsys):
    assert cli.main(["train", "sine", "--out", str(tmp_path / "r"), "--dataset", "mnist"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--dataset" in err and "sine" in err
    assert not (tmp_path / "r").exists()


def test_unknown_lesson(tmp_path, capsys):
    assert cli.main(["train", "progan", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "progan" in err and "sine" in err and "dcgan" in err


def test_evaluate_without_images_or_points(tmp_path, capsys):
    path = tmp_path / "x.npz"
    np.savez(path, other=np.zeros(3))
    assert cli.main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "neither" in err and "other" in err


def test_evaluate_float_images_or_no_dataset(tmp_path, capsys):
    path = tmp_path / "x.npz"
    np.savez(path, images=np.zeros((3, 28, 28, 1), np.float32))
    assert cli.main(["evaluate", str(path)]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert cli.main(["evaluate", str(path), "--dataset", "fashion_mnist"]) == 2
    assert "uint8" in capsys.readouterr().err


def test_evaluate_missing_file(tmp_path, capsys):
    assert cli.main(["evaluate", str(tmp_path / "absent.npz")]) == 2
    assert "absent.npz" in capsys.readouterr().err


def test_sample_without_a_run(tmp_path, capsys):
    assert cli.main(["sample", str(tmp_path), "--out", str(tmp_path / "f.npz")]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and str(tmp_path) in err
    assert not (tmp_path / "f.npz").exists()


def test_evaluate_real_images(tmp_path, capsys, fashion_test):
    path = tmp_path / "real.npz"
    np.savez_compressed(path, images=fashion_test.x[:500])
    assert cli.main(["evaluate", str(path), "--dataset", "fashion_mnist"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["n"] == 500
    assert {"fid", "kid", "class_entropy_bits", "max_class_share", "real"} <= set(result)
    real = result["real"]
    assert real["n"] == 500 and real["judge_test_accuracy"] > 0.85
    # real test images score like the real training images of the reference
    assert 0 <= result["fid"] < 2 * real["fid"] + 1
    assert result["class_entropy_bits"] > 3.1


def test_train_with_a_budget_too_short_to_log(tmp_path):
    assert cli.main(["train", "sine", "--out", str(tmp_path / "r"), "--minutes", "0.0001"]) == 0


def test_parser_rejects_two_budgets(tmp_path):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "sine", "--out", str(tmp_path), "--steps", "1", "--minutes", "1"])
    assert info.value.code == 2


def test_train_and_sample_dcgan(tmp_path, capsys):
    run_dir = tmp_path / "dcgan"
    assert cli.main(["train", "dcgan", "--out", str(run_dir), "--steps", "3"]) == 0
    assert last_json(capsys.readouterr().out)["step"] == 3
    out = tmp_path / "images.npz"
    assert cli.main(["sample", str(run_dir), "--n", "20", "--out", str(out)]) == 0
    with np.load(out) as f:
        assert list(f) == ["images"]
        images = f["images"]
    assert images.shape == (20, 28, 28, 1) and images.dtype == np.uint8
    assert len(np.unique(images)) > 1


def test_train_on_an_unavailable_dataset(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANLIB_OFFLINE", "1")
    monkeypatch.delenv("GANLIB_DATA_DIR", raising=False)
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    code = cli.main(["train", "dcgan", "--out", str(tmp_path / "r"), "--dataset", "mnist"])
    assert code == 2
    err = capsys.readouterr().err
    assert "mnist" in err and "Looked in" in err and "GANLIB_DATA_DIR" in err
