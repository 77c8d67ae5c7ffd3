"""Which Phoenix: a remote one by environment variable, else a local `phoenix serve` the project starts.

Without `PHOENIX_COLLECTOR_ENDPOINT` / `PHOENIX_HOST` (and `PHOENIX_API_KEY`), `ensure_phoenix()` starts
`phoenix serve` bound to 127.0.0.1 on a free port (its gRPC collector too: `cookbook/phoenix_serve.py`),
without provider credentials, with its sqlite working directory under the cookbook dir; it records it in
`server.json`, and later cells and processes reuse it; `stop_phoenix()` stops it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cookbook.credentials import without_credentials
from cookbook.files import atomic_write_text
from cookbook.paths import PROJECT_DIR, cookbook_dir
from cookbook.seams import CookbookError

STARTUP_TIMEOUT_S = 180


class PhoenixUnavailable(CookbookError):
    """Phoenix cannot be reached or started; local results are safe on disk, the call can be repeated."""


# -- the server ----------------------------------------------------------------------------------------
def remote_phoenix_url() -> str | None:
    """The configured remote Phoenix, if any."""
    endpoint = os.environ.get("PHOENIX_COLLECTOR_ENDPOINT")
    if endpoint:
        return endpoint.rstrip("/").removesuffix("/v1/traces")
    host = os.environ.get("PHOENIX_HOST")
    if host:
        return host.rstrip("/") if "://" in host else f"http://{host}:{os.environ.get('PHOENIX_PORT', '6006')}"
    return None


def _healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_phoenix(working_dir: Path | str | None = None, quiet: bool = False) -> str:
    """The URL of a Phoenix to log to: the remote one if configured, else a local `phoenix serve`
    (started now, or the one an earlier cell or process started)."""
    remote = remote_phoenix_url()
    if remote:
        if not _healthy(remote, timeout=5):
            raise PhoenixUnavailable(
                f"Phoenix at {remote} is not reachable (PHOENIX_COLLECTOR_ENDPOINT / PHOENIX_HOST); start it, or "
                "unset those variables to use a local Phoenix, or set PHOENIX = False to run without one."
            )
        return remote
    working_dir = Path(working_dir) if working_dir else cookbook_dir() / "phoenix"
    state_file = working_dir / "server.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        if _healthy(state["url"]):
            return state["url"]
    working_dir.mkdir(parents=True, exist_ok=True)
    port, grpc_port = _free_port(), _free_port()
    env = {
        **without_credentials(),  # Phoenix needs no provider key
        "PHOENIX_WORKING_DIR": str(working_dir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),  # bound to 127.0.0.1 by cookbook.phoenix_serve
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = open(working_dir / "phoenix.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cookbook.phoenix_serve", "serve"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            tail = (working_dir / "phoenix.log").read_text(errors="replace")[-1500:]
            raise PhoenixUnavailable(f"phoenix serve did not come up ({url}); its log ends:\n{tail}")
        time.sleep(0.5)
    state = {"url": url, "pid": proc.pid, "grpc_port": grpc_port, "working_dir": str(working_dir)}
    atomic_write_text(state_file, json.dumps(state))
    if not quiet:
        print(f"Phoenix is running at {url} (working dir {working_dir})")
    return url


def stop_phoenix(working_dir: Path | str | None = None) -> bool:
    """Stop the local Phoenix started by `ensure_phoenix`; True if one was running. A remote Phoenix
    (configured by environment) is never stopped from here."""
    if remote_phoenix_url():
        return False
    working_dir = Path(working_dir) if working_dir else cookbook_dir() / "phoenix"
    state_file = working_dir / "server.json"
    if not state_file.exists():
        return False
    state = json.loads(state_file.read_text())
    state_file.unlink()
    try:
        os.killpg(state["pid"], signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.killpg(state["pid"], 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.killpg(state["pid"], signal.SIGKILL)
    return True
