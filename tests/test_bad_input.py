"""Bad input gets a clear error that says what was wrong and what to do, and damages nothing."""

import contextlib
import hashlib
import io
import json

import numpy as np
import pytest

from ganlib import cli
from ganlib.data import write_idx


def _digest(run_dir):
    """Every file under a run directory with the hash of its bytes (the lock file aside)."""
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("bad-input") / "sine"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "sine", "--out", str(run_dir), "--steps", "100"]) == 0
    return run_dir


def _refused(argv, capsys, *phrases):
    assert cli.main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    for phrase in phrases:
        assert phrase in err, err
    return err


@pytest.mark.parametrize("argv, phrases", [
    (["--steps", "50"], ["already holds a run", "--resume", "--fresh"]),
    (["--resume", "--seed", "5"], ["--seed 5 contradicts --resume", "seed=0"]),
    (["--resume", "--smoke"], ["--smoke contradicts --resume"]),
    (["--steps", "0"], ["--steps must be positive"]),
    (["--resume", "--checkpoint-every", "0"], ["--checkpoint-every must be at least 1"]),
])
def test_contradicting_train_options_leave_the_run_alone(good_run, capsys, argv, phrases):
    before = _digest(good_run)
    _refused(["train", "sine", "--out", good_run, *argv], capsys, *phrases)
    assert _digest(good_run) == before


def test_resume_a_run_of_another_lesson(good_run, capsys):
    before = _digest(good_run)
    _refused(["train", "dcgan", "--out", good_run, "--resume"], capsys,
             "holds a 'sine' run, not 'dcgan'")
    assert _digest(good_run) == before


def test_resume_and_fresh_together(good_run):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "sine", "--out", str(good_run), "--resume", "--fresh"])
    assert exit_info.value.code == 2


def test_resume_where_there_is_no_run(tmp_path, capsys):
    _refused(["train", "sine", "--out", tmp_path / "empty", "--resume"], capsys,
             "holds no checkpoint to resume from", "Leave out --resume")
    assert not (tmp_path / "empty").exists()


def test_unknown_dataset(tmp_path, capsys):
    _refused(["train", "dcgan", "--out", tmp_path / "r", "--dataset", "cifar10"], capsys,
             "Unknown dataset 'cifar10'", "fashion_mnist")
    assert not (tmp_path / "r").exists()


def test_run_dir_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    _refused(["train", "sine", "--out", blocker / "run", "--steps", "5"], capsys,
             "cannot write the run directory", "Choose another directory")
    assert blocker.read_text() == "not a directory"


def test_truncated_dataset_file(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "data" / "fashion_mnist"
    folder.mkdir(parents=True)
    images = np.zeros((20, 28, 28), np.uint8)
    for prefix in ("train", "t10k"):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.zeros(20, np.uint8))
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    monkeypatch.setenv("GANLIB_DATA_DIR", str(tmp_path / "data"))
    _refused(["train", "dcgan", "--out", tmp_path / "r", "--steps", "2"], capsys,
             "train-images-idx3-ubyte")
    assert not (tmp_path / "r").exists()


def test_images_of_the_wrong_shape(tmp_path, capsys):
    path = tmp_path / "rgb.npz"
    np.savez(path, images=np.zeros((10, 32, 32, 3), np.uint8))
    _refused(["evaluate", path, "--dataset", "fashion_mnist"], capsys,
             "takes images of shape (28, 28, 1), got (32, 32, 3)", "pass the dataset")


@pytest.mark.parametrize("arrays, phrases", [
    ({"images": np.zeros((0, 28, 28, 1), np.uint8)}, ["N >= 1", "got shape (0, 28, 28, 1)",
                                                      "ganlib sample"]),
    ({"images": np.zeros((4, 28, 28), np.uint8)}, ["N x H x W x C", "got shape (4, 28, 28)"]),
    ({"images": np.zeros((4, 28, 28, 1), np.uint8), "labels": np.zeros(3, np.int64)},
     ["one integer class per image (4)", "got shape (3,)"]),
    ({"points": np.zeros((0, 2), np.float32)}, ["N x 2", "got shape (0, 2)"]),
])  # fmt: skip
def test_evaluate_explains_arrays_it_cannot_score(tmp_path, capsys, arrays, phrases):
    path = tmp_path / "samples.npz"
    np.savez(path, **arrays)
    err = _refused(["evaluate", path, "--dataset", "fashion_mnist"], capsys, *phrases)
    assert "concatenate" not in err and "Traceback" not in err


def test_evaluate_a_file_that_is_not_an_npz(tmp_path, capsys):
    path = tmp_path / "samples.npz"
    path.write_text("not numpy at all")
    err = _refused(["evaluate", path, "--dataset", "fashion_mnist"], capsys,
                   "is not a readable .npz file", "numpy.savez")
    assert "allow_pickle" not in err and "pickled" not in err
    np.savez(path, images=np.array([{"a": 1}], dtype=object))
    err = _refused(["evaluate", path, "--dataset", "fashion_mnist"], capsys,
                   "holds Python objects, not numbers")
    assert "allow_pickle" not in err


@pytest.mark.parametrize("argv, phrase", [
    (["--n", "0"], "--n must be at least 1"),
    (["--out", "samples.txt"], "--out must name an .npz file"),
])
def test_bad_sample_options(good_run, tmp_path, capsys, argv, phrase):
    args = {"--n": "5", "--out": str(tmp_path / "s.npz")}
    args.update(dict(zip(argv[::2], argv[1::2])))
    _refused(["sample", good_run, *[x for kv in args.items() for x in kv]], capsys, phrase)
    assert not list(tmp_path.glob("s*"))


def test_damaged_config(good_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "config.json").write_text("{not json")
    _refused(["sample", copy, "--out", tmp_path / "s.npz"], capsys, "is damaged")


def test_all_checkpoints_unreadable(good_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(good_run, copy)
    for data_file in (copy / "checkpoints").glob("ckpt-*.data-*"):
        data_file.write_bytes(data_file.read_bytes()[:64])
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
        _refused(["sample", copy, "--out", tmp_path / "s.npz"], capsys,
                 "no readable checkpoint")
    assert not (tmp_path / "s.npz").exists()


def test_sample_from_the_best_checkpoint(good_run, tmp_path, capsys):
    out = tmp_path / "best.npz"
    assert cli.main(["sample", str(good_run), "--checkpoint", "best", "--n", "10",
                     "--out", str(out)]) == 0
    best = json.loads((good_run / "best.json").read_text())
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["step"] == best["step"] and printed["checkpoint"] == "best"
    assert np.load(out)["points"].shape == (10, 2)
