"""Running an agent's process: its own process group, output to files as it comes, a deadline that kills
the whole group (the agent and everything it started)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

KILL_GRACE_S = 5.0


def run_process(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float, stdout_path: Path, stderr_path: Path
) -> tuple[int | None, bool, float]:
    """Run a command in its own process group, output to files as it comes (nothing lost on a kill).
    On timeout: SIGTERM to the group, then SIGKILL after a grace period. → (exit code, timed_out, seconds)."""
    start = time.monotonic()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
        try:
            code = proc.wait(timeout=timeout)
            kill_group(proc.pid, signal.SIGKILL)  # helpers the agent left behind (servers, watchers)
            return code, False, time.monotonic() - start
        except subprocess.TimeoutExpired:
            kill_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
            kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
            return None, True, time.monotonic() - start


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
