"""The instance-image testbed: the agent inside the instance's own container, on a machine with a Docker engine.

An instance image holds the repository at its base commit in `/testbed` and the environment its tests
need (SWE-bench's images: a conda env named `testbed`; the project's own, built for rows without images
by `cookbook.images`: a virtualenv first on PATH). For an agent run:
- the workspace is the image's /testbed, copied out as a repository of one commit: the state the agent
  starts from, and nothing else of the image's repository — no history, branch, tag, reflog or object
  (images built before SWE-bench cleaned their histories hold the fix's later commits). The patch is the
  diff against that commit, so what the image's own setup changed in tracked files never enters it;
- a container of the image (`--rm`, labelled with the run and its owner process, see
  `cookbook.docker_engine`) holds nothing of this machine but the workspace at /testbed, a home for the
  agent's own state (`/cookbook/home`) and the agent's installation (read-only, `/cookbook/agent/<n>`): no
  Docker socket, its own /proc, and no network but its own loopback, where the run's gateway listens too
  (the project opens the gateway's socket inside the container's network namespace, which needs root);
- the agent runs inside it (`docker exec`, the environment activated): its shell is the container's, its
  Python the environment's, its files the container's (a script it writes to /tmp runs there);
- when the agent's process ends, the container goes, with whatever still runs in it; release removes the
  workspace. Containers of killed runs are swept by the next `check()`.

The agents' binaries (Cline's and Claude Code's are self-contained executables) need glibc 2.26 at most:
Debian bullseye, bookworm and trixie, and SWE-bench's Ubuntu images, all have a newer one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path, PurePosixPath

from cookbook.credentials import without_credentials
from cookbook.data.repositories import check_repositories
from cookbook.docker_engine import DockerUnavailable, check_engine, client, label_args, sweep_leftovers
from cookbook.git import git
from cookbook.images import with_spec
from cookbook.images.build import image_exists
from cookbook.paths import cookbook_dir
from cookbook.seams import Workspace
from cookbook.workspaces.checkout import new_workspace_dir, sweep_stale_workspaces

ACTIVATE = "source /opt/miniconda3/bin/activate testbed 2>/dev/null || true"  # SWE-bench's images
TESTBED, HOME, AGENT = "/testbed", "/cookbook/home", "/cookbook/agent"
BASE_MESSAGE = "cookbook: the starting state ({repo} at {base_commit}, as the instance image's /testbed holds it)"
IDENTITY = ("-c", "user.name=cookbook", "-c", "user.email=cookbook@workspace.invalid", "-c", "commit.gpgSign=false")


class Container:
    """The sandbox of a docker workspace: the instance's container, with `mounts` (folder of this machine →
    where the agent's processes see it) and the network namespace of its first process."""

    def __init__(self, name: str, mounts: dict[Path, str], network: Path):
        self.name, self.mounts, self.network = name, mounts, network
        self.stop_command = ["docker", "rm", "-f", name]

    def path(self, host_path: Path) -> str:
        resolved = Path(host_path).resolve()
        for host, inside in self.mounts.items():
            if resolved == host or host in resolved.parents:
                return str(PurePosixPath(inside) / resolved.relative_to(host))
        raise ValueError(f"{host_path} is not in the agent's container {self.name}")

    def command(self, argv: list[str], env: dict[str, str], cwd: Path) -> tuple[list[str], dict[str, str]]:
        flags = [f"--env={name}={value}" for name, value in env.items()]
        inside = ["bash", "-c", f'{ACTIVATE}; exec "$0" "$@"', *argv]
        command = ["docker", "exec", "--interactive", "--workdir", self.path(cwd), *flags, self.name, *inside]
        return command, without_credentials()


class DockerTestbed:
    """One workspace and container per agent run, of the instance's `image` (or one the project builds);
    `agent_files` (the agent's installation) are given to the agent read-only."""

    name = "docker"

    def __init__(
        self, repos_dir: Path | str | None = None, root: Path | str | None = None, agent_files: tuple[Path, ...] = ()
    ):
        self.repos_dir = repos_dir
        self.root = Path(root) if root else cookbook_dir() / "workspaces"
        self.agent_files = tuple(Path(f).resolve() for f in agent_files)
        self.run = uuid.uuid4().hex[:12]  # the `cookbook.run` label of this testbed's containers

    def check(self, instances: list[dict]) -> None:
        check_engine(
            "Running agents on SWE-bench instances",
            "Use agent='cline-modal' to run them in Modal sandboxes, or the bundled benchmark (or your own "
            "pip-installable repositories) with harness='local'.",
        )
        if os.geteuid() != 0:
            raise DockerUnavailable(
                "The docker testbed runs each agent in its instance's container with no network but the "
                "gateway, whose socket the project opens inside the container's network namespace: that "
                "needs root on the Docker engine's machine. Run as root (as `make docker-engine` does), or use "
                "agent='cline-modal', or harness='local' for pip-installable repositories."
            )
        sweep_leftovers()
        sweep_stale_workspaces(self.root)
        check_repositories([i for i in instances if not i.get("image")], self.repos_dir)  # the project's images

    def prepare(self, instance: dict) -> Workspace:
        """Copy /testbed out of the image as a repository of one commit, and start the container with it."""
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
        workspace = Workspace(run_dir / "testbed", {}, "", handle=(run_dir, container), home=run_dir / "home")
        try:
            created = _docker("create", *label_args(self.run), image, "true")
            try:
                _docker("cp", f"{created}:{TESTBED}/.", str(workspace.path))
            finally:
                _docker("rm", "-f", created)
            workspace.base = one_commit(workspace.path, BASE_MESSAGE.format(**instance))
            workspace.home.mkdir()
            mounts = {workspace.path: TESTBED, workspace.home: HOME}
            mounts |= {path: f"{AGENT}/{n}" for n, path in enumerate(self.agent_files)}
            binds = [
                f"--mount=type=bind,source={host},target={inside}{',readonly' if inside.startswith(AGENT) else ''}"
                for host, inside in mounts.items()
            ]
            _docker(
                *("run", "--detach", "--rm", "--init", "--network=none", "--name", container, *label_args(self.run)),
                *(*binds, "--workdir", TESTBED, "--entrypoint", "sleep", image, "infinity"),
            )
            pid = _docker("inspect", "--format", "{{.State.Pid}}", container)
            workspace.sandbox = Container(container, mounts, Path(f"/proc/{pid}/ns/net"))
            return workspace
        except BaseException:
            self.release(workspace)
            raise

    def release(self, workspace: Workspace) -> None:
        """Remove the container (if the agent's end did not already) and the workspace."""
        import docker

        run_dir, container = workspace.handle
        try:
            client().containers.get(container).remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException:  # removed meanwhile, or the engine went: the next check sweeps it
            pass
        shutil.rmtree(run_dir, ignore_errors=True)


def one_commit(path: Path, message: str) -> str:
    """Make `path` a repository of one commit holding its files as they are (ignored files stay out of it,
    as they stay out of the patch), whatever repository was there before; return the commit."""
    old = path / ".git"
    if old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink(missing_ok=True)
    git("init", "-q", "-b", "main", str(path))
    # every object streamed into one pack: thousands of loose object files cost seconds on a large repository
    git("-c", "core.bigFileThreshold=1", "add", "-A", cwd=path)
    git(*IDENTITY, "commit", "-q", "--no-verify", "--allow-empty", "-m", message, cwd=path)
    # so that the agent can commit; its commits are part of the diff against this one
    git("config", "user.name", "agent", cwd=path)
    git("config", "user.email", "agent@workspace.invalid", cwd=path)
    return git("rev-parse", "HEAD", cwd=path)


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise DockerUnavailable(f"docker {' '.join(args[:3])} … failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()
