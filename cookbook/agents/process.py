"""Running an agent's process: in its workspace's sandbox, its own process group, output to files as it
comes, a deadline that kills the whole group (the agent and everything it started), an early stop on
request, and a guard that kills the group — and ends the sandbox's processes — if this process dies first
(`guard.py`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from cookbook.files import scrub_file
from cookbook.seams import Sandbox

KILL_GRACE_S = 5.0
GUARD = Path(__file__).with_name("guard.py")


def run_process(
    command: list[str],
    sandbox: Sandbox,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    stdout_path: Path,
    stderr_path: Path,
    stop: threading.Event | None = None,
) -> tuple[int | None, bool, float]:
    """Run a command in `sandbox` (in `cwd`, with `env` on top of the sandbox's own environment), in its
    own process group, output to files as it comes (nothing lost on a kill). At the deadline, or when
    `stop` is set: SIGTERM to the group, then SIGKILL after a grace period. At the end, whatever it left
    running in the sandbox is ended and the output files are scrubbed of provider keys.
    → (exit code or None when it was ended, timed_out, seconds)."""
    start = time.monotonic()
    stop = stop or threading.Event()
    host_command, host_env = sandbox.command(command, env, cwd)
    guard = [sys.executable, "-I", str(GUARD), str(os.getpid()), json.dumps(sandbox.stop_command)]
    try:
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                [*guard, *host_command],
                cwd=cwd,
                env=host_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            deadline = start + timeout
            while time.monotonic() < deadline and not stop.is_set():
                try:
                    code = proc.wait(timeout=min(0.5, max(0.01, deadline - time.monotonic())))
                    kill_group(proc.pid, signal.SIGKILL)  # helpers the agent left behind (servers, watchers)
                    return code, False, time.monotonic() - start
                except subprocess.TimeoutExpired:
                    pass
            kill_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
            kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
            return None, not stop.is_set(), time.monotonic() - start
    finally:
        if sandbox.stop_command:
            subprocess.run(sandbox.stop_command, capture_output=True)
        scrub_file(stdout_path)
        scrub_file(stderr_path)


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
