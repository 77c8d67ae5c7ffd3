"""The Docker engine, as the docker harness and the instance-image testbed need it: the check that one
answers, and the labels and sweep that keep no container of the project's behind.

Every container the project starts carries `cookbook=1`, `cookbook.run=<run>` and
`cookbook.owner=<host>:<pid>` (the process that started it). A run removes its containers on every exit
path; a run that was killed cannot, so the next start sweeps the containers whose owner process on this
machine is gone — and swebench's own evaluation containers of such runs, whose names end with a run id
made by `run_id()`, and the project's image builds (`cookbook-build.<run id>`).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time
import uuid

from cookbook.seams import HarnessError

LABEL, RUN_LABEL, OWNER_LABEL = "cookbook", "cookbook.run", "cookbook.owner"
START_ENGINE = "as root, `make docker-engine` installs and starts one; elsewhere start Docker Desktop or dockerd"


class DockerUnavailable(HarnessError):
    """No Docker engine answers; the message names the alternatives."""


def check_engine(needed_for: str, alternatives: str) -> None:
    """Raise DockerUnavailable unless a Docker engine answers; the message says what needs it and what
    else to do."""
    try:
        import docker

        docker.from_env(timeout=10).ping()
    except Exception as e:
        raise DockerUnavailable(
            f"{needed_for} needs a running Docker engine, and none answers ({type(e).__name__}: {e}); "
            f"{START_ENGINE}. {alternatives}"
        ) from e


def client():
    """A Docker SDK client with room for slow image builds."""
    import docker

    return docker.from_env(timeout=1800)


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def owner() -> str:
    """This process, as the `cookbook.owner` label names it."""
    return f"{_host_tag()}:{os.getpid()}"


def container_labels(run: str) -> dict[str, str]:
    """The labels of a container started by this process for `run`."""
    return {LABEL: "1", RUN_LABEL: run, OWNER_LABEL: owner()}


def label_args(run: str) -> list[str]:
    """The same labels as `docker run` arguments."""
    return [arg for key, value in container_labels(run).items() for arg in ("--label", f"{key}={value}")]


def run_id() -> str:
    """A fresh run id that names its owner process (`cookbook-<host>-<pid>-<time>-<random>`), for swebench's
    evaluation containers, which are named `sweb.eval.<instance>.<run id>` and carry no labels of ours."""
    return f"cookbook-{_host_tag()}-{os.getpid()}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"


# swebench's evaluation containers (`sweb.eval.<instance>.<run id>`) and the project's image builds
# (`cookbook-build.<run id>`), which carry no labels: their names say whose they are
BUILD_CONTAINER_PREFIX = "cookbook-build."
UNLABELLED_CONTAINER = re.compile(r"^(sweb\.eval\..+|cookbook-build)\.cookbook-([0-9a-f]{6})-(\d+)-")


def owner_gone(host: str, pid: str) -> bool:
    """True when `pid` on this machine no longer runs (another machine's processes are never judged)."""
    if host != _host_tag() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep_leftovers() -> list[str]:
    """Remove the containers of killed runs of this machine; return their names. Never raises."""
    removed = []
    try:
        docker = client()
        for container in docker.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
            host, _, pid = container.labels.get(OWNER_LABEL, "").partition(":")
            if owner_gone(host, pid):
                container.remove(force=True)
                removed.append(container.name)
        for container in docker.containers.list(all=True):
            match = UNLABELLED_CONTAINER.match(container.name)
            if match and owner_gone(match.group(2), match.group(3)):
                container.remove(force=True)
                removed.append(container.name)
    except Exception:  # a sweep that fails leaves leftovers for the next one; it must not stop a run
        pass
    return removed
