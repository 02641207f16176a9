"""One writer per run directory: a second notebook or process gets a clear error, not a mess.

The lock is an OS file lock (`flock`) on `RUN_DIR/.lock`, so a process that dies, even by
SIGKILL, releases it; there is never a stale lock to delete by hand.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from pathlib import Path


class RunBusy(RuntimeError):
    """Another process is writing this run directory."""


class RunDirNotWritable(RuntimeError):
    """The run directory cannot be created or written."""


def ensure_writable(run_dir: Path) -> Path:
    """Create `run_dir` if needed and check a file can be written there, or say why not."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise RunDirNotWritable(
            f"cannot write the run directory {run_dir}: {e.strerror or e}. Choose another "
            "directory (--out, or GANLIB_OUTPUT_DIR) or fix its permissions."
        ) from None
    return run_dir


_HELD: dict[Path, object] = {}  # run directories this process writes, with their open lock


def hold(run_dir: Path) -> Path:
    """Take the run directory's lock for the rest of this process (again: a no-op).

    Training or changing a run takes it, so while a notebook's kernel that trained in a
    directory is alive, another kernel or process cannot train there or clear it. Reading a
    run (restoring it to sample) takes no lock.
    """
    run_dir = ensure_writable(run_dir)
    key = run_dir.resolve()
    if key in _HELD:
        return run_dir
    f = open(run_dir / ".lock", "a+")  # noqa: SIM115  (kept open: the open file is the lock)
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        raise RunBusy(
            f"{run_dir} is in use by {holder}. Let that run finish (or close the notebook "
            "kernel that trained it), or give this run another directory."
        ) from None
    f.seek(0)
    f.truncate()
    f.write(f"process {os.getpid()}")
    f.flush()
    _HELD[key] = f
    return run_dir


def release(run_dir: Path) -> None:
    """Give the lock back (it also goes when the process ends, however it ends)."""
    f = _HELD.pop(Path(run_dir).resolve(), None)
    if f is not None:
        f.truncate(0)
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def clear_contents(run_dir: Path) -> None:
    """Delete a run's contents for a fresh start (taking its lock first)."""
    hold(run_dir)
    for child in Path(run_dir).iterdir():
        if child.name == ".lock":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
