"""Python environments for repositories that install with pip: one virtualenv per repository and version.

Built once under `<cookbook dir>/envs/` (from a checkout at the instance's base commit) with pytest and the
instance's `install` command (default `python -m pip install -e .` when the repository has a
`pyproject.toml` or `setup.py`). The local harness runs the tests in it, and the local testbed puts it
first on the agent's PATH, so an agent running the tests sees what the harness sees.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cookbook.credentials import without_credentials
from cookbook.files import file_lock
from cookbook.paths import cookbook_dir
from cookbook.seams import HarnessError
from cookbook.workspaces.checkout import prepare_workspace

TEST_RUNNER_INSTALL = "python -m pip install -q pytest"


def default_install(src: Path, install: str = "") -> str:
    """The instance's `install` command, else `python -m pip install -e .` for a repository that has a
    `pyproject.toml` or `setup.py` (else nothing to install)."""
    if not install and ((src / "pyproject.toml").exists() or (src / "setup.py").exists()):
        return "python -m pip install -e ."
    return install


class VirtualEnvs:
    """The virtualenvs of a folder (`envs_dir`, default `<cookbook dir>/envs`)."""

    def __init__(self, envs_dir: Path | str | None = None, repos_dir: Path | str | None = None):
        self.envs_dir = Path(envs_dir) if envs_dir else cookbook_dir() / "envs"
        self.repos_dir = repos_dir

    def environment(self, instance: dict) -> Path:
        """The virtualenv for this instance's repository and version, built on first use."""
        install = instance.get("install") or ""
        install_hash = hashlib.sha1(install.encode()).hexdigest()[:8]
        key = f"{instance['repo'].replace('/', '__')}-{instance['version']}-{install_hash}"
        env_dir = self.envs_dir / key
        with file_lock(self.envs_dir / f"{key}.lock"):
            if (env_dir / "ready").exists():
                return env_dir
            shutil.rmtree(env_dir, ignore_errors=True)
            env_dir.mkdir(parents=True)
            src = prepare_workspace(instance, root=env_dir, repos_dir=self.repos_dir)
            src.rename(env_dir / "src")
            src = env_dir / "src"
            install = default_install(src, install)
            steps = [
                [sys.executable, "-m", "venv", str(env_dir / "venv")],
                ["bash", "-c", TEST_RUNNER_INSTALL],
                *([["bash", "-c", install]] if install else []),
            ]
            self._build(env_dir, src, steps)
            (env_dir / "ready").write_text(json.dumps({"install": install, "built_at": time.time()}))
            return env_dir

    def _build(self, env_dir: Path, src: Path, steps: list[list[str]]) -> None:
        log_path = env_dir / "install.log"
        with open(log_path, "w") as log:
            for step in steps:
                log.write(f"$ {shlex.join(step)}\n")
                log.flush()
                done = subprocess.run(step, cwd=src, env=env_vars(env_dir, src), stdout=log, stderr=subprocess.STDOUT)
                if done.returncode != 0:
                    tail = log_path.read_text()[-2000:]
                    raise HarnessError(f"building the environment {env_dir} failed at {shlex.join(step)}:\n{tail}")

    def agent_env(self, instance: dict, workspace: Path) -> dict[str, str]:
        """Environment variables that put the repository's environment first for a process working
        in `workspace` (an agent running the tests sees what the harness sees)."""
        return env_vars(self.environment(instance), workspace)


def env_vars(env_dir: Path, workspace: Path) -> dict[str, str]:
    """This process's environment, without provider credentials, with the virtualenv first on PATH and the
    workspace's code on PYTHONPATH (for the agent's processes and the harness's test runs)."""
    venv = env_dir / "venv"
    env = {k: v for k, v in without_credentials().items() if k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV")}
    code_paths = [p for p in (workspace / "src", workspace) if p.is_dir()]
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PYTHONPATH=os.pathsep.join(map(str, code_paths)),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env
