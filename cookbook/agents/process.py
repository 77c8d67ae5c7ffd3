"""Running an agent's process: its own process group, output to files as it comes, a deadline that kills
the whole group (the agent and everything it started), an early stop on request, and a guard that kills the
group if this process dies first (`guard.py`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

KILL_GRACE_S = 5.0
GUARD = Path(__file__).with_name("guard.py")


def run_process(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    stdout_path: Path,
    stderr_path: Path,
    stop: threading.Event | None = None,
) -> tuple[int | None, bool, float]:
    """Run a command in its own process group, output to files as it comes (nothing lost on a kill).
    At the deadline, or when `stop` is set: SIGTERM to the group, then SIGKILL after a grace period.
    → (exit code or None when it was ended, timed_out, seconds)."""
    start = time.monotonic()
    stop = stop or threading.Event()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(GUARD), str(os.getpid()), *command],
            cwd=cwd,
            env=env,
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


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
