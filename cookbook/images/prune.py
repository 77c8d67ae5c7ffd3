"""Removing the project's images: `python -m cookbook prune-images [--older-than DAYS] [--all]`.

Environment and instance images pile up as datasets, repositories and the project's own image layout
change (a changed input makes a new image, the old one stays). By default the environment and instance
images made more than `--older-than` days ago (default 30) and used by no container go; `--all` removes
every image the project made, the Debian bases and imports included (the next build makes them again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Pruned:
    removed: list[str]
    freed_bytes: int
    kept_in_use: list[str]


def prune_images(older_than_days: float = 30, everything: bool = False) -> Pruned:
    """Remove the project's images as the module says; never raises for one image that cannot go."""
    from cookbook.docker_engine import client

    docker = client()
    in_use = {c.image.id for c in docker.containers.list(all=True) if c.image is not None}
    cutoff = time.time() - older_than_days * 86400
    removed, freed, kept = [], 0, []
    images = docker.images.list(filters={"label": "cookbook=1"})
    # instance images first: an environment image cannot go while an image built on it remains
    images.sort(key=lambda image: "cookbook.instance" not in image.labels)
    for image in images:
        name = image.tags[0] if image.tags else image.short_id
        built_by_project = "cookbook.repo" in image.labels or "cookbook.instance" in image.labels
        created = _created(image)
        if not everything and (not built_by_project or created > cutoff):
            continue
        if image.id in in_use:
            kept.append(name)
            continue
        try:
            size = image.attrs.get("Size", 0)
            docker.images.remove(image.id, force=True)
            removed.append(name)
            freed += size
        except Exception:
            kept.append(name)
    if everything:
        for image in docker.images.list(name="cookbook/debian"):
            docker.images.remove(image.id, force=True)
            removed.append(image.tags[0] if image.tags else image.short_id)
    docker.images.prune(filters={"dangling": True, "label": "cookbook=1"})
    return Pruned(removed, freed, kept)


def _created(image) -> float:
    from datetime import datetime

    return datetime.fromisoformat(image.attrs["Created"].replace("Z", "+00:00")[:26] + "+00:00").timestamp()
