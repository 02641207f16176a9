"""Download a file with a checksum, atomically: a partial or bad file never looks valid.

SHA-256 by default; `algorithm="md5"` exists for archives whose publishers only list an MD5,
and `sha256=None` for the few that list none (the caller must then check the content).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from pathlib import Path


class ChecksumError(RuntimeError):
    """The downloaded bytes are not the ones the checksum names."""


def sha256_of(path: Path, gunzip: bool = False, algorithm: str = "sha256") -> str:
    """SHA-256 (or `algorithm`) of a file's bytes, or of its decompressed bytes if `gunzip`."""
    h = hashlib.new(algorithm)
    with (gzip.open(path, "rb") if gunzip else open(path, "rb")) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _digest(path: Path, gunzip: bool, algorithm: str = "sha256") -> str:
    """The digest, or a description of why the file could not be read."""
    try:
        return sha256_of(path, gunzip, algorithm)
    except (OSError, EOFError, zlib.error) as e:
        return f"unreadable ({e})"


def fetch(url: str, dest: Path, sha256: str | None, gunzip_hash: bool = False, tries: int = 2,
          algorithm: str = "sha256") -> Path:
    """Fetch `url` to `dest` unless a verified copy is there; retry once on a bad checksum.

    `gunzip_hash` checks the hash of the decompressed content, which stays the same when a
    mirror recompresses the file. `sha256` is an MD5 when `algorithm="md5"`; None accepts
    any complete download (and a file already at `dest`), for the caller to check.
    """
    dest = Path(dest)
    if dest.exists() and (sha256 is None or _digest(dest, gunzip_hash, algorithm) == sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.part{os.getpid()}")
    got = ""
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
            got = _digest(tmp, gunzip_hash, algorithm)
            if sha256 is None or got == sha256:
                tmp.replace(dest)
                return dest
        finally:
            tmp.unlink(missing_ok=True)
    name = "SHA-256" if algorithm == "sha256" else algorithm.upper()
    raise ChecksumError(
        f"{url} gave a file whose {name} is {got}, not {sha256}, twice. The download was "
        f"deleted; check the URL or your network, or put a good copy at {dest}."
    )
