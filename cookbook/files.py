"""Files that survive crashes: atomic writes and locks held across processes; none holds a provider key."""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from cookbook.credentials import scrub, scrub_bytes


@contextmanager
def file_lock(lock_path: Path, stop: threading.Event | None = None):
    """An exclusive lock held across processes (parallel runs build a shared thing once). With `stop`, the
    wait for it ends with InterruptedError as soon as `stop` is set."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (fcntl.LOCK_NB if stop else 0))
                break
            except BlockingIOError:
                if stop.wait(0.5):
                    raise InterruptedError(f"stopped while waiting for {lock_path}") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that a reader sees the old content or the new one, never half of it; never with a
    provider key in it (`cookbook.credentials.scrub`)."""
    atomic_write_bytes(path, scrub(text).encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def scrub_file(path: Path) -> None:
    """Rewrite a file the project keeps but did not write itself (an agent's output) without provider keys."""
    try:
        data = path.read_bytes()
    except OSError:
        return
    clean = scrub_bytes(data)
    if clean != data:
        atomic_write_bytes(path, clean)
