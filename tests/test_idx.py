import gzip

import numpy as np
import pytest

from ganlib.data import DataFileError, read_idx, write_idx
from ganlib.data.idx import read_idx_bytes


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32])
def test_round_trip(tmp_path, suffix, dtype):
    rng = np.random.default_rng(0)
    lo, hi = (0, 256) if dtype == np.uint8 else (-(2**31), 2**31 - 1)
    array = rng.integers(lo, hi, (5, 7, 3), dtype=dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.shape == (5, 7, 3)
    np.testing.assert_array_equal(back, array)
    assert not list(tmp_path.glob("*.tmp"))


def test_gz_name_means_gzip_and_header_is_big_endian(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(6, dtype=np.int32).reshape(2, 3))
    raw = gzip.decompress((tmp_path / "a.gz").read_bytes())
    assert raw[:4] == bytes([0, 0, 0x0C, 2])
    assert raw[4:12] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert raw[12:16] == (0).to_bytes(4, "big") and raw[16:20] == (1).to_bytes(4, "big")


def test_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "a", np.zeros(3, np.int64))


def test_big_endian_array_round_trip(tmp_path):
    array = np.arange(6, dtype=">i4")
    write_idx(tmp_path / "a", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)


def _assert_points_to_fix(info, path):
    message = str(info.value)
    assert str(path) in message
    assert "Delete" in message and "fetch it again" in message


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_truncated_file(tmp_path, suffix):
    good = tmp_path / f"good{suffix}"
    write_idx(good, np.zeros((4, 28, 28), np.uint8))
    raw = gzip.decompress(good.read_bytes()) if suffix else good.read_bytes()
    bad = tmp_path / f"bad{suffix}"
    cut = raw[: len(raw) - 100]
    bad.write_bytes(gzip.compress(cut) if suffix else cut)
    with pytest.raises(DataFileError, match="truncated") as info:
        read_idx(bad)
    _assert_points_to_fix(info, bad)


def test_truncated_gzip_stream(tmp_path):
    good = tmp_path / "good.gz"
    write_idx(good, np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8))
    bad = tmp_path / "bad.gz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataFileError) as info:
        read_idx(bad)
    _assert_points_to_fix(info, bad)


def test_truncated_header(tmp_path):
    for raw in (b"\x00\x00", bytes([0, 0, 8, 3, 0, 0, 0, 1])):
        path = tmp_path / "h"
        path.write_bytes(raw)
        with pytest.raises(DataFileError, match="truncated") as info:
            read_idx(path)
        _assert_points_to_fix(info, path)


def test_corrupted_gzip(tmp_path):
    good = tmp_path / "good.gz"
    write_idx(good, np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8))
    data = bytearray(good.read_bytes())
    for i in range(20, len(data) - 20):
        data[i] ^= 0x5A
    bad = tmp_path / "bad.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataFileError) as info:
        read_idx(bad)
    _assert_points_to_fix(info, bad)


def test_not_gzip_at_all(tmp_path):
    bad = tmp_path / "plain.gz"
    bad.write_bytes(b"this is not gzip data at all")
    with pytest.raises(DataFileError, match="gzip") as info:
        read_idx(bad)
    _assert_points_to_fix(info, bad)


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00",
                                   b"PK\x03\x04"])
def test_wrong_magic(tmp_path, magic):
    path = tmp_path / "m"
    path.write_bytes(magic + (3).to_bytes(4, "big") + bytes(3))
    with pytest.raises(DataFileError, match="not an IDX file") as info:
        read_idx(path)
    _assert_points_to_fix(info, path)


def test_longer_than_header_says(tmp_path):
    path = tmp_path / "long"
    write_idx(path, np.zeros((2, 3), np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00\x01")
    with pytest.raises(DataFileError, match="longer than its header says") as info:
        read_idx(path)
    _assert_points_to_fix(info, path)


def test_missing_file_is_not_a_data_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "absent.gz")


def test_read_idx_bytes_parses_and_converts_to_native():
    raw = bytes([0, 0, 0x0B, 1]) + (3).to_bytes(4, "big") + b"\x00\x01\x01\x00\xff\xff"
    array = read_idx_bytes(raw)
    np.testing.assert_array_equal(array, [1, 256, -1])
    assert array.dtype.isnative
