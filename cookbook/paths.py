"""Where the cookbook keeps its files. Every path can be moved with an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUNDLED_DIR = PROJECT_DIR / "bundled"


def cookbook_dir() -> Path:
    """The working directory for caches, environments and runs (`COOKBOOK_DIR`, default `.cookbook/`).

    It holds repository mirrors (`repos/`), test environments (`envs/`) and throwaway workspaces
    (`workspaces/`), which can be deleted, and paid work kept to be found again: the agent runs
    (`agent_runs/`, unless `agent_runs_dir` puts them elsewhere) and the judge's and optimizer's replies
    (`llm_cache/`); deleting those costs their price again.
    """
    return Path(os.environ.get("COOKBOOK_DIR") or PROJECT_DIR / ".cookbook").resolve()
