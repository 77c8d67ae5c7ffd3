"""The instance-image testbed: agents on SWE-bench instances, on a machine with a Docker engine.

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

from cookbook.credentials import without_credentials
from cookbook.docker_engine import DockerUnavailable, check_engine
from cookbook.paths import cookbook_dir
from cookbook.seams import Workspace

SHIMMED = ("python", "python3", "pytest", "pip")
ACTIVATE = "source /opt/miniconda3/bin/activate testbed 2>/dev/null || true"


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
    """One agent run's workspace and container per instance (`instance["image"]`)."""

    name = "docker"

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root else cookbook_dir() / "workspaces"

    def check(self, instances: list[dict]) -> None:
        check_engine(
            "Running agents on SWE-bench instances",
            "Use agent='cline-modal' to run them in Modal sandboxes, or the bundled benchmark (or your own "
            "pip-installable repositories) with harness='local'.",
        )

    def prepare(self, instance: dict) -> Workspace:
        """Copy /testbed out of the image and start the container with it bound in."""
        if not instance.get("image"):
            raise DockerUnavailable(f"{instance['instance_id']} names no `image`; load a current SWE-bench dataset.")
        self.root.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix=f"{instance['instance_id']}-", dir=self.root))
        container = "cookbook-" + hashlib.sha1(str(run_dir).encode()).hexdigest()[:12]
        workspace = Workspace(run_dir / "testbed", {}, instance["base_commit"], handle=(run_dir, container))
        try:
            image = instance["image"]
            created = _docker("create", image)
            try:
                _docker("cp", f"{created}:/testbed/.", str(workspace.path))
            finally:
                _docker("rm", "-f", created)
            mount = f"{workspace.path}:/testbed"
            _docker(
                "run",
                "-d",
                "--name",
                container,
                "-v",
                mount,
                "-w",
                "/testbed",
                "--entrypoint",
                "sleep",
                image,
                "infinity",
            )
            shims = run_dir / "shims"
            shims.mkdir()
            for command in SHIMMED:
                path = shims / command
                path.write_text(shim_script(command, container, workspace.path))
                path.chmod(0o755)
            workspace.env = {**without_credentials(), "PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}"}
            return workspace
        except BaseException:
            self.release(workspace)
            raise

    def release(self, workspace: Workspace) -> None:
        run_dir, container = workspace.handle
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise DockerUnavailable(f"docker {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()
