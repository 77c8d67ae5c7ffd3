"""The Docker engine, as the docker harness and the instance-image testbed need it."""

from __future__ import annotations

from cookbook.seams import HarnessError


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
            f"{needed_for} needs a running Docker engine, and none answers ({type(e).__name__}: {e}). {alternatives}"
        ) from e
