"""Agent workspaces for real SWE-bench instances, on a machine with a Docker engine.

A SWE-bench instance image holds the repository at its base commit in `/testbed` and the environment its
tests need (a conda env named `testbed`). For an agent run: the workspace is copied out of the image, and
a container of the same image with the workspace bound at `/testbed` is started; small shims put first on
the agent's `PATH` (`python`, `python3`, `pytest`, `pip`) run those commands inside the container, in the
matching directory, with the environment activated. The agent edits files on the host; the tests it runs
see them at once. The patch is then `git diff` of the workspace, as for any other run.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

SHIMMED = ("python", "python3", "pytest", "pip")
ACTIVATE = "source /opt/miniconda3/bin/activate testbed 2>/dev/null || true"


class DockerUnavailable(RuntimeError):
    """No Docker engine answers; the message names the alternatives."""


def check_engine() -> None:
    """Raise DockerUnavailable unless a Docker engine answers."""
    try:
        import docker

        docker.from_env(timeout=10).ping()
    except Exception as e:
        raise DockerUnavailable(
            f"Running agents on SWE-bench instances needs a Docker engine, and none answers ({type(e).__name__}: "
            f"{e}). Use agent='cline-modal' to run them in Modal sandboxes, or the bundled benchmark (or your "
            "own pip-installable repositories) with harness='local'."
        ) from e


def shim_script(command: str, container: str, workspace: Path) -> str:
    """A shell script that runs `command` inside `container`, in the directory matching the caller's."""
    return (
        "#!/bin/sh\n"
        f"# runs {command} inside the instance container, where the repository's environment is\n"
        f'rel="${{PWD#{workspace}}}"\n'
        f'exec docker exec -i -w "/testbed$rel" {shlex.quote(container)} bash -c '
        f'\'{ACTIVATE}; exec "$0" "$@"\' {shlex.quote(command)} "$@"\n'
    )


class DockerTestbed:
    """One agent run's workspace and container for a SWE-bench instance (`instance["image"]`)."""

    def __init__(self, instance: dict, root: Path | str | None = None):
        if not instance.get("image"):
            raise DockerUnavailable(f"{instance['instance_id']} names no `image`; load a current SWE-bench dataset.")
        self.instance = instance
        self.dir = Path(tempfile.mkdtemp(prefix=f"{instance['instance_id']}-", dir=root))
        self.workspace = self.dir / "testbed"
        self.shims = self.dir / "shims"
        self.container = "cookbook-" + hashlib.sha1(str(self.dir).encode()).hexdigest()[:12]

    def prepare(self) -> Path:
        """Copy /testbed out of the image and start the container with it bound in; return the workspace."""
        image = self.instance["image"]
        created = _docker("create", image)
        try:
            _docker("cp", f"{created}:/testbed/.", str(self.workspace))
        finally:
            _docker("rm", "-f", created)
        _docker(
            "run",
            "-d",
            "--name",
            self.container,
            "-v",
            f"{self.workspace}:/testbed",
            "-w",
            "/testbed",
            "--entrypoint",
            "sleep",
            image,
            "infinity",
        )
        self.shims.mkdir()
        for command in SHIMMED:
            path = self.shims / command
            path.write_text(shim_script(command, self.container, self.workspace))
            path.chmod(0o755)
        return self.workspace

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.shims}{os.pathsep}{os.environ.get('PATH', '')}"}

    def close(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.container], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise DockerUnavailable(f"docker {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()
