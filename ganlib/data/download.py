"""Download a file with a SHA-256 check, atomically: a partial or bad file never looks valid."""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from pathlib import Path


class ChecksumError(RuntimeError):
    """The downloaded bytes are not the ones the checksum names."""


def sha256_of(path: Path, gunzip: bool = False) -> str:
    """SHA-256 of a file's bytes, or of its decompressed bytes when `gunzip` is set."""
    h = hashlib.sha256()
    with (gzip.open(path, "rb") if gunzip else open(path, "rb")) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _digest(path: Path, gunzip: bool) -> str:
    """The SHA-256, or a description of why the file could not be read."""
    try:
        return sha256_of(path, gunzip)
    except (OSError, EOFError, zlib.error) as e:
        return f"unreadable ({e})"


def _verified(path: Path, sha256: str, gunzip: bool) -> bool:
    return _digest(path, gunzip) == sha256


def fetch(url: str, dest: Path, sha256: str, gunzip_hash: bool = False, tries: int = 2) -> Path:
    """Fetch `url` to `dest` unless a verified copy is there; retry once on a bad checksum.

    `gunzip_hash` checks the hash of the decompressed content, which stays the same when a
    mirror recompresses the file.
    """
    dest = Path(dest)
    if dest.exists() and _verified(dest, sha256, gunzip_hash):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.part{os.getpid()}")
    got = ""
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
            got = _digest(tmp, gunzip_hash)
            if got == sha256:
                tmp.replace(dest)
                return dest
        finally:
            tmp.unlink(missing_ok=True)
    raise ChecksumError(
        f"{url} gave a file whose SHA-256 is {got}, not {sha256}, twice. The download was "
        f"deleted; check the URL or your network, or put a good copy at {dest}."
    )
