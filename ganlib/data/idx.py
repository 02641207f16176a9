"""Reader for the IDX format used by MNIST and Fashion-MNIST (optionally gzip-compressed)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np


class DataFileError(ValueError):
    """A dataset file exists but cannot be read: truncated, corrupted or of the wrong kind."""


_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _fix(path: Path) -> str:
    return f"Delete {path} and fetch it again (or point GANLIB_DATA_DIR at a good copy)."


def read_idx_bytes(raw: bytes, path: Path | str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes: magic (0, 0, dtype, ndim), ndim big-endian uint32 sizes, then the data."""
    path = Path(path)
    if len(raw) < 4:
        raise DataFileError(f"{path} is truncated: {len(raw)} bytes, no IDX header. {_fix(path)}")
    zero, zero2, code, ndim = raw[:4]
    if zero != 0 or zero2 != 0 or code not in _DTYPES or ndim == 0:
        raise DataFileError(
            f"{path} is not an IDX file (magic bytes {raw[:4].hex()}). {_fix(path)}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFileError(f"{path} is truncated inside its header. {_fix(path)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = len(raw) - header
    if body != expected:
        what = "truncated" if body < expected else "longer than its header says"
        raise DataFileError(
            f"{path} is {what}: shape {shape} needs {expected} bytes of data, found {body}. "
            f"{_fix(path)}"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: Path | str) -> np.ndarray:
    """Read an IDX file, gunzipping it when its name ends in `.gz`."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (EOFError, OSError, zlib.error) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise DataFileError(f"{path} is not a readable gzip file ({e}). {_fix(path)}") from e
    return read_idx_bytes(raw, path)


def write_idx(path: Path | str, array: np.ndarray) -> None:
    """Write an array as IDX (gzip when the name ends in `.gz`); used by tests and exports."""
    path = Path(path)
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("=").str: k for k, v in _DTYPES.items()}
    dtype = np.dtype(array.dtype)
    code = codes.get(dtype.newbyteorder("=").str)
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}.")
    big = array.astype(np.dtype(_DTYPES[code]))
    raw = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    ) + big.tobytes()
    tmp = path.with_name(path.name + ".tmp")
    with (gzip.open(tmp, "wb") if path.suffix == ".gz" else open(tmp, "wb")) as f:
        f.write(raw)
    tmp.replace(path)
