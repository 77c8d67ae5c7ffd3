"""Small helpers shared by the stages: running git, file locks, atomic writes."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class GitError(RuntimeError):
    """A git command failed; the message holds the command and git's own words."""


def git(
    *args: str, cwd: Path | str | None = None, env: dict | None = None, input: str | None = None, strip: bool = True
) -> str:
    """Run git and return its stdout (stripped unless `strip=False`, as a patch must be); raise GitError
    with git's stderr when it fails."""
    result = subprocess.run(["git", *args], cwd=cwd, env=env, input=input, capture_output=True, text=True)
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {cwd or os.getcwd()}: {result.stderr.strip()}")
    return result.stdout.strip() if strip else result.stdout


@contextmanager
def file_lock(lock_path: Path):
    """An exclusive lock held across processes (parallel runs build a shared thing once)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that a reader sees the old content or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
    """Answer a request with a JSON body."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class LocalHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server on loopback for many parallel clients (the listen backlog of the standard
    library's default, 5, resets connections when 50+ agents connect at once)."""

    daemon_threads = True
    request_queue_size = 256


def serve_in_thread(handler: type[BaseHTTPRequestHandler]) -> LocalHTTPServer:
    """Start a server on 127.0.0.1 (a free port) in a background thread; stop with shutdown() and server_close()."""
    server = LocalHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class BackgroundHTTPService:
    """start() / stop() / `with` for a service that serves `self._make_handler()` on 127.0.0.1."""

    _server: LocalHTTPServer | None = None

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _closing(self) -> None:
        """Called first by stop(): release what handlers may be waiting on."""

    def start(self):
        self._server = serve_in_thread(self._make_handler())
        return self

    def stop(self) -> None:
        self._closing()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
