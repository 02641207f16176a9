import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from ganlib import data
from ganlib.data import download, mnist
from ganlib.data.download import ChecksumError, fetch, sha256_of


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@pytest.fixture
def served(tmp_path):
    """A folder served by file:// URL holding `a.bin` (raw) and `b.gz` (gzipped)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    raw = bytes(range(256)) * 40
    (folder / "a.bin").write_bytes(raw)
    (folder / "b.gz").write_bytes(gzip.compress(raw))
    return folder, raw


def test_fetch_with_correct_checksum(served, tmp_path):
    folder, raw = served
    dest = tmp_path / "out" / "sub" / "a.bin"
    got = fetch((folder / "a.bin").as_uri(), dest, _sha(raw))
    assert got == dest
    assert dest.read_bytes() == raw
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.bin"]


def test_wrong_checksum_leaves_nothing(served, tmp_path):
    folder, _ = served
    dest = tmp_path / "out" / "a.bin"
    with pytest.raises(ChecksumError) as info:
        fetch((folder / "a.bin").as_uri(), dest, "0" * 64)
    assert "0" * 64 in str(info.value) and str(dest) in str(info.value)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no .part file either


def test_verified_file_is_not_downloaded_again(served, tmp_path, monkeypatch):
    folder, raw = served
    dest = tmp_path / "a.bin"
    dest.write_bytes(raw)
    mtime = dest.stat().st_mtime_ns

    def no_network(*args, **kwargs):
        raise AssertionError("fetch downloaded a file it already had")

    monkeypatch.setattr(download.urllib.request, "urlopen", no_network)
    assert fetch("file:///nonexistent/a.bin", dest, _sha(raw)) == dest
    assert dest.stat().st_mtime_ns == mtime


def test_stale_file_is_replaced(served, tmp_path):
    folder, raw = served
    dest = tmp_path / "a.bin"
    dest.write_bytes(b"an old, wrong copy")
    fetch((folder / "a.bin").as_uri(), dest, _sha(raw))
    assert dest.read_bytes() == raw


def test_gunzip_hash_checks_decompressed_content(served, tmp_path):
    folder, raw = served
    url = (folder / "b.gz").as_uri()
    dest = tmp_path / "b.gz"
    fetch(url, dest, _sha(raw), gunzip_hash=True)
    assert gzip.decompress(dest.read_bytes()) == raw
    assert sha256_of(dest, gunzip=True) == _sha(raw)
    # the hash of the compressed bytes is not what gunzip_hash mode checks
    with pytest.raises(ChecksumError):
        fetch(url, tmp_path / "c.gz", _sha((folder / "b.gz").read_bytes()), gunzip_hash=True)
    assert not (tmp_path / "c.gz").exists()


def test_gunzip_hash_on_a_non_gzip_download(served, tmp_path):
    folder, raw = served
    dest = tmp_path / "a.gz"
    with pytest.raises(ChecksumError, match="unreadable"):
        fetch((folder / "a.bin").as_uri(), dest, _sha(raw), gunzip_hash=True)
    assert list(tmp_path.glob("a.gz*")) == []


def test_missing_url_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        fetch((tmp_path / "absent").as_uri(), tmp_path / "x", "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_truncated_existing_gz_is_refetched(served, tmp_path):
    folder, raw = served
    dest = tmp_path / "b.gz"
    dest.write_bytes((folder / "b.gz").read_bytes()[:30])
    fetch((folder / "b.gz").as_uri(), dest, _sha(raw), gunzip_hash=True)
    assert gzip.decompress(dest.read_bytes()) == raw


def test_corrupt_gzip_download_is_a_checksum_error(served, tmp_path):
    folder, raw = served
    bad = bytearray((folder / "b.gz").read_bytes())
    for i in range(12, len(bad) - 10):
        bad[i] ^= 0x55
    (folder / "bad.gz").write_bytes(bytes(bad))
    with pytest.raises(ChecksumError):
        fetch((folder / "bad.gz").as_uri(), tmp_path / "bad.gz", _sha(raw), gunzip_hash=True)


def test_download_fashion_mnist_from_a_mirror(tmp_path, monkeypatch, fake_mnist):
    mirror = tmp_path / "mirror"
    arrays = fake_mnist(mirror, n_train=10, n_test=4, gz=True)
    hashes = {p.name: sha256_of(p, gunzip=True) for p in mirror.iterdir()}
    assert len(hashes) == 4
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setattr(mnist, "KERAS_MIRROR", mirror.as_uri() + "/")
    monkeypatch.setattr(mnist, "FASHION_SHA256", hashes)
    monkeypatch.setenv("GANLIB_DATA_DIR", str(data_dir))
    folder = mnist._download("fashion_mnist")
    assert folder == data_dir / "fashion_mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(hashes)
    ds = data.load("fashion_mnist", "train")  # GANLIB_DATA_DIR is searched first
    assert ds.source == str(folder)
    np.testing.assert_array_equal(ds.x[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(ds.y, arrays["train"][1])
    assert len(data.load("fashion_mnist", "test")) == 4


def test_load_downloads_when_missing_and_online(tmp_path, monkeypatch, fake_mnist):
    mirror = tmp_path / "mirror"
    fake_mnist(mirror, n_train=10, n_test=4)
    monkeypatch.setattr(mnist, "KERAS_MIRROR", mirror.as_uri() + "/")
    monkeypatch.setattr(mnist, "FASHION_SHA256",
                        {p.name: sha256_of(p, gunzip=True) for p in mirror.iterdir()})
    monkeypatch.setattr(mnist, "_candidates",
                        lambda name, path: ([Path(path)] if path else []) + [tmp_path / "empty"])
    monkeypatch.setenv("GANLIB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GANLIB_OFFLINE", raising=False)
    ds = data.load("fashion_mnist", "test")
    assert len(ds) == 4 and ds.source == str(tmp_path / "data" / "fashion_mnist")
