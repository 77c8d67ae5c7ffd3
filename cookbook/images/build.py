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
        tail = "".join(log_path.read_text(errors="replace").splitlines(True)[-15:])
        raise HarnessError(f"Building the image {tag} failed: {error.strip()} (log: {log_path})\n{tail}")
    return image_id(tag)
