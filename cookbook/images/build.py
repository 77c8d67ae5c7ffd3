"""Building an image with the Docker SDK (the engine's own builder; swebench 5's path shells out to
`docker buildx`, which Debian does not package), its log kept in a file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cookbook.seams import HarnessError


def image_exists(name: str) -> bool:
    import docker

    from cookbook.docker_engine import client

    try:
        client().images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def image_id(name: str) -> str:
    from cookbook.docker_engine import client

    return client().images.get(name).id


def inputs_hash(*parts: str) -> str:
    """A short stable hash of an image's inputs: part of its tag, so changed inputs make a new image."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def build_image(tag: str, dockerfile: str, context: Path, labels: dict[str, str], log_path: Path, pull=False) -> str:
    """Build `context` (a directory) with `dockerfile` as `tag`; return the image id. The build's output goes
    to `log_path`; a failed build raises HarnessError with its last lines and the log's path."""
    from cookbook.docker_engine import client

    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    error = ""
    with open(log_path, "w") as log:
        log.write(dockerfile + "\n---\n")
        stream = client().api.build(
            path=str(context),
            tag=tag,
            labels={"cookbook": "1", **labels},
            rm=True,
            forcerm=True,
            pull=pull,
            decode=True,
        )
        for chunk in stream:
            if "stream" in chunk:
                log.write(chunk["stream"])
            elif "error" in chunk:
                error = chunk["error"]
                log.write(json.dumps(chunk) + "\n")
    if error:
        raise HarnessError(f"Building the image {tag} failed: {error.strip()[:300]} (log: {log_path})")
    return image_id(tag)


class BuildFailed(HarnessError):
    """One image could not be built (its log says why): that instance's environment error, not the run's."""

    def __init__(self, message: str, log_path: Path):
        super().__init__(message)
        self.log_path = log_path


def commit_image(
    tag: str,
    source: str,
    context: Path,
    changes: list[str],
    labels: dict[str, str],
    log_path: Path,
    timeout: float,
    cache: Path | None = None,
) -> str:
    """Run `context/build.sh` in a container of `source`, with `context` mounted read-only at /context, and
    commit the container as `tag` when the script succeeds; return the image id. `cache`, a folder of the
    host's, is mounted at /uv-cache (downloads reused between builds, never part of an image). The script's output goes
    to `log_path`. When it fails or runs past `timeout` seconds, BuildFailed names the log, and nothing is
    left behind: no container, no image (a Dockerfile build would leave its finished steps' layers)."""
    import threading

    from cookbook.docker_engine import BUILD_CONTAINER_PREFIX, client, run_id

    log_path.parent.mkdir(parents=True, exist_ok=True)
    docker = client()
    volumes = {str(context): {"bind": "/context", "mode": "ro"}}
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        volumes[str(cache)] = {"bind": "/uv-cache", "mode": "rw"}
    container = docker.containers.create(
        source,
        ["bash", "/context/build.sh"],
        volumes=volumes,
        # no labels (the image would inherit them); the name says whose it is, so a killed build's is swept
        name=f"{BUILD_CONTAINER_PREFIX}{run_id()}",
    )
    timer = threading.Timer(timeout, lambda: _kill(container))
    try:
        container.start()
        timer.start()
        with open(log_path, "wb") as log:
            log.write((context / "build.sh").read_bytes() + b"\n---\n")
            for chunk in container.logs(stream=True, follow=True):
                log.write(chunk)
        status = container.wait()["StatusCode"]
        if not timer.is_alive():
            raise BuildFailed(f"building {tag} ran past {timeout:g} s (log: {log_path})", log_path)
        if status != 0:
            raise BuildFailed(f"building {tag} failed: {_last_reason(log_path)} (log: {log_path})", log_path)
        repository, _, version = tag.rpartition(":")
        changes = [
            'CMD ["bash"]',  # not the build's command, which the container would otherwise leave as the image's
            *changes,
            "LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in {"cookbook": "1", **labels}.items()),
        ]
        image = container.commit(
            repository=repository, tag=version, changes=changes, conf={"Labels": {"cookbook": "1", **labels}}
        )
        return image.id
    finally:
        timer.cancel()
        container.remove(force=True)


def _kill(container) -> None:
    try:
        container.kill()
    except Exception:  # already gone
        pass


def _last_reason(log_path: Path) -> str:
    """The build log's own last word: the line the script printed with `cookbook:`, else its last line."""
    lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    said = [line for line in lines if line.startswith("cookbook:")]
    return (said or lines or ["no output"])[-1][:300]
