import numpy as np
import pytest

from ganlib import data
from ganlib.data import DataFileError, DatasetUnavailable, UnknownDataset, mnist


def test_available_lists_the_registered_datasets():
    assert {"fashion_mnist", "mnist", "sine"} <= set(data.available())


def test_fashion_mnist_train():
    ds = data.load("fashion_mnist", "train")
    assert ds.x.shape == (60000, 28, 28, 1)
    assert ds.x.dtype == np.uint8
    assert ds.y.shape == (60000,)
    assert set(np.unique(ds.y)) == set(range(10))
    assert ds.num_classes == 10 and len(ds.class_names) == 10
    assert len(ds) == 60000
    assert ds.x.max() > 200  # real pixels, not an all-zero stand-in


def test_fashion_mnist_test_split(fashion_test):
    assert fashion_test.x.shape == (10000, 28, 28, 1)
    assert fashion_test.split == "test"
    # classes are balanced in the test split: 1000 each
    np.testing.assert_array_equal(np.bincount(fashion_test.y), [1000] * 10)


def test_name_is_normalised():
    assert data.load("Fashion-MNIST", "test").name == "fashion_mnist"


def test_sine():
    ds = data.load("sine", "train", n=500)
    assert ds.x.shape == (500, 2) and ds.x.dtype == np.float32
    x, y = ds.x[:, 0], ds.x[:, 1]
    np.testing.assert_allclose(y, np.sin(x), atol=1e-6)
    assert x.min() >= -np.pi and x.max() <= np.pi
    assert ds.y is None


def test_sine_is_seeded_and_splits_differ():
    a = data.load("sine", "train", n=100, seed=3).x
    np.testing.assert_array_equal(a, data.load("sine", "train", n=100, seed=3).x)
    assert not np.array_equal(a, data.load("sine", "test", n=100, seed=3).x)
    assert not np.array_equal(a, data.load("sine", "train", n=100, seed=4).x)


def test_unknown_dataset_lists_known_names():
    with pytest.raises(UnknownDataset) as info:
        data.load("cifar_99")
    message = str(info.value)
    assert "cifar_99" in message
    for name in ("fashion_mnist", "mnist", "sine"):
        assert name in message
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize("split", ["validation", "TRAIN", ""])
def test_bad_split(split):
    with pytest.raises(ValueError, match="split"):
        data.load("sine", split)


def test_missing_mnist_offline(nowhere):
    with pytest.raises(DatasetUnavailable) as info:
        data.load("mnist", "train")
    message = str(info.value)
    assert str(nowhere / "repo" / "data" / "mnist") in message
    assert str(nowhere / "home" / ".keras" / "datasets") in message
    assert "GANLIB_OFFLINE" in message
    assert "GANLIB_DATA_DIR" in message and "IDX" in message
    assert not (nowhere / "repo").exists()  # offline: nothing was created for a download


def test_missing_fashion_offline_lists_folders_and_debian_hint(nowhere, monkeypatch):
    folders = [nowhere / "a", nowhere / "b"]
    (nowhere / "a").mkdir()
    monkeypatch.setattr(mnist, "_candidates", lambda name, path: folders)
    with pytest.raises(DatasetUnavailable) as info:
        data.load("fashion_mnist", "test")
    message = str(info.value)
    for folder in folders:
        assert str(folder) in message
    assert "dataset-fashion-mnist" in message
    assert "GANLIB_DATA_DIR" in message


def test_data_dir_is_searched(monkeypatch, tmp_path, fake_mnist):
    arrays = fake_mnist(tmp_path / "data" / "mnist")
    monkeypatch.setenv("GANLIB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GANLIB_OFFLINE", "1")
    ds = data.load("mnist", "test")
    np.testing.assert_array_equal(ds.x[..., 0], arrays["t10k"][0])
    assert ds.source == str(tmp_path / "data" / "mnist")
    assert ds.class_names == tuple(str(i) for i in range(10))


@pytest.mark.parametrize("gz", [True, False])
def test_explicit_path_is_loaded(tmp_path, fake_mnist, gz):
    arrays = fake_mnist(tmp_path / "fake", gz=gz)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        ds = data.load("fashion_mnist", split, path=tmp_path / "fake")
        images, labels = arrays[prefix]
        assert ds.x.shape == (len(images), 28, 28, 1) and ds.x.dtype == np.uint8
        np.testing.assert_array_equal(ds.x[..., 0], images)
        np.testing.assert_array_equal(ds.y, labels)
        assert ds.y.dtype == np.int64
        assert ds.source == str(tmp_path / "fake")


def test_explicit_path_with_truncated_file(tmp_path, fake_mnist):
    folder = tmp_path / "fake"
    fake_mnist(folder, gz=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(DataFileError) as info:
        data.load("fashion_mnist", "train", path=folder)
    assert str(path) in str(info.value) and "Delete" in str(info.value)


def test_explicit_path_with_bad_labels(tmp_path, fake_mnist):
    folder = tmp_path / "fake"
    fake_mnist(folder)
    data.write_idx(folder / "train-labels-idx1-ubyte.gz", np.full(12, 11, np.uint8))
    with pytest.raises(DataFileError, match="0-9"):
        data.load("fashion_mnist", "train", path=folder)


def test_explicit_path_with_wrong_image_size(tmp_path, fake_mnist):
    folder = tmp_path / "fake"
    fake_mnist(folder)
    data.write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((12, 32, 32), np.uint8))
    with pytest.raises(DataFileError, match="28 x 28"):
        data.load("fashion_mnist", "train", path=folder)


def test_mnist_npz_is_read(tmp_path, monkeypatch):
    folder = tmp_path / "npz"
    folder.mkdir()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    np.savez(folder / "mnist.npz", x_train=x, y_train=np.arange(5, dtype=np.uint8),
             x_test=x[:2], y_test=np.arange(2, dtype=np.uint8))
    ds = data.load("mnist", "train", path=folder)
    np.testing.assert_array_equal(ds.x[..., 0], x)
    (folder / "mnist.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataFileError, match="mnist.npz"):
        data.load("mnist", "train", path=folder)
