"""Running git: its output, or an error that holds the command and git's own words."""

from __future__ import annotations

import os
import subprocess
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
