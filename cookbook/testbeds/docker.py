"""The instance-image testbed: agents on an instance image's /testbed, on a machine with a Docker engine.

An instance image holds the repository at its base commit in `/testbed` and the environment its tests
need (SWE-bench's images: a conda env named `testbed`; the project's own, built for rows without images
by `cookbook.images`: a virtualenv first on PATH). For an agent run:
- the workspace is copied out of the image's /testbed and committed as it is (a snapshot): the patch is
  the diff against that commit, so what the image's own setup changed in tracked files never enters it;
- a container of the image with the workspace bound at `/testbed` is started (`--rm`, labelled with the
  run and its owner process, see `cookbook.docker_engine`); small shims first on the agent's PATH
  (`python`, `python3`, `pytest`, `pip`) run those commands inside it, in the matching directory, with
  the environment activated. The agent edits files on the host; the tests it runs see them at once;
- release hands the files the container wrote (as root) back to this user, removes the container and
  the workspace. Containers of killed runs are swept by the next `check()`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path

from cookbook.credentials import without_credentials
from cookbook.data.repositories import check_repositories
from cookbook.docker_engine import DockerUnavailable, check_engine, label_args, sweep_leftovers
from cookbook.git import git
from cookbook.images import with_spec
from cookbook.images.build import image_exists
from cookbook.paths import cookbook_dir
from cookbook.seams import Workspace
from cookbook.testbeds.checkout import new_workspace_dir, sweep_stale_workspaces

SHIMMED = ("python", "python3", "pytest", "pip")
ACTIVATE = "source /opt/miniconda3/bin/activate testbed 2>/dev/null || true"
SNAPSHOT_MESSAGE = "cookbook: the workspace's starting state (the instance image's /testbed)"


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
    """One agent run's workspace and container per instance (its `image`, or one the project builds)."""

    name = "docker"

    def __init__(self, repos_dir: Path | str | None = None, root: Path | str | None = None):
        self.repos_dir = repos_dir
        self.root = Path(root) if root else cookbook_dir() / "workspaces"
        self.run = uuid.uuid4().hex[:12]  # the `cookbook.run` label of this testbed's containers

    def check(self, instances: list[dict]) -> None:
        check_engine(
            "Running agents on SWE-bench instances",
            "Use agent='cline-modal' to run them in Modal sandboxes, or the bundled benchmark (or your own "
            "pip-installable repositories) with harness='local'.",
        )
        sweep_leftovers()
        sweep_stale_workspaces(self.root)
        check_repositories([i for i in instances if not i.get("image")], self.repos_dir)  # the project's images

    def prepare(self, instance: dict) -> Workspace:
        """Copy /testbed out of the image, snapshot it, and start the container with it bound in."""
        image = with_spec(instance, self.repos_dir)["image"]
        if not image_exists(image):
            pulled = subprocess.run(["docker", "pull", "-q", image], capture_output=True, text=True)
            if pulled.returncode != 0:
                raise DockerUnavailable(
                    f"The instance image {image} is not on this machine and cannot be pulled "
                    f"({pulled.stderr.strip()[-300:]}); pull it where its registry is reachable (docker pull, "
                    "then docker save / docker load here)."
                )
        self.root.mkdir(parents=True, exist_ok=True)
        run_dir = new_workspace_dir(self.root, instance["instance_id"])  # swept if this process is killed
        container = f"cookbook-{self.run}-{run_dir.name.rsplit('-', 1)[-1].lower()}"
        workspace = Workspace(run_dir / "testbed", {}, "", handle=(run_dir, container))
        try:
            created = _docker("create", *label_args(self.run), image, "true")
            try:
                _docker("cp", f"{created}:/testbed/.", str(workspace.path))
            finally:
                _docker("rm", "-f", created)
            workspace.base = snapshot(workspace.path)
            _docker(
                *("run", "-d", "--rm", "--name", container, *label_args(self.run)),
                *("-v", f"{workspace.path}:/testbed", "-w", "/testbed", "--entrypoint", "sleep", image, "infinity"),
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
        """Hand the container's files back to this user, remove the container and the workspace."""
        run_dir, container = workspace.handle
        owner = f"{os.getuid()}:{os.getgid()}"
        subprocess.run(["docker", "exec", container, "chown", "-R", owner, "/testbed"], capture_output=True)
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def snapshot(path: Path) -> str:
    """Commit the workspace as it is (a repository made if it holds none); return the commit. Ignored
    files stay out of it, as they stay out of the patch."""
    if not (path / ".git").exists():
        git("init", "-q", str(path))
    identity = ("-c", "user.name=cookbook", "-c", "user.email=cookbook@workspace.invalid")
    git("add", "-A", cwd=path)
    git(
        *identity,
        "-c",
        "commit.gpgSign=false",
        "commit",
        "-q",
        "--no-verify",
        "--allow-empty",
        "-m",
        SNAPSHOT_MESSAGE,
        cwd=path,
    )
    return git("rev-parse", "HEAD", cwd=path)


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise DockerUnavailable(f"docker {' '.join(args[:3])} … failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()
