"""Environment and instance images: build time and disk per instance, printed as ratios.

The bundled benchmark's 15 tasks in three repositories (one environment each, as SWE-bench has one per
repository and version), built from scratch with the project's images of them removed first (the Debian
base per Python is kept: it is built once per machine). With `LITE=1` and ../shared/swebench-lite present,
SWE-bench Lite's three flask rows (two environments: flask 2.0 on Python 3.9, flask 2.3 on 3.11) too.
Disk is what each image adds on top of the image it is built on (`docker history`: its own layers), so an
environment shared by N instances is paid once.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from cookbook.data import load_instances
from cookbook.docker_engine import client
from cookbook.images import with_spec
from cookbook.images.instance import environment_image

LITE = Path(__file__).resolve().parents[2] / "shared" / "swebench-lite"


def own_bytes(image: str) -> int:
    """What `image` adds on top of its parent image: the sizes of its own layers."""
    history = client().api.history(image)
    own = []
    for entry in history:  # newest first, until the first layer of the image it was built on
        own.append(entry["Size"])
        if entry.get("Tags") and image not in entry["Tags"]:
            own.pop()
            break
    return sum(own)


def remove_project_images(rows: list[dict], repos_dir) -> None:
    docker = client()
    for row in rows:
        for name in (with_spec(row, repos_dir)["image"], environment_image(row, repos_dir)[0]):
            try:
                docker.images.remove(name, force=True)
            except Exception:
                pass


def measure(label: str, rows: list[dict], repos_dir=None) -> None:
    remove_project_images(rows, repos_dir)
    env_seconds, instance_seconds, envs = 0.0, [], {}
    for row in rows:
        start = time.perf_counter()
        env, _ = environment_image(row, repos_dir)
        built_env = time.perf_counter() - start
        if env not in envs:
            envs[env] = own_bytes(env)
            env_seconds += built_env
        start = time.perf_counter()
        image = with_spec(row, repos_dir)["image"]
        instance_seconds.append((time.perf_counter() - start, own_bytes(image)))
    n = len(rows)
    per_instance_s = sum(s for s, _ in instance_seconds) / n
    per_instance_mb = sum(b for _, b in instance_seconds) / n / 1e6
    env_mb = sum(envs.values()) / 1e6
    print(f"{label}: {n} instances, {len(envs)} environment image(s)")
    print(f"  environment images: {env_seconds:.0f} s, {env_mb:.0f} MB in all ({env_mb / len(envs):.0f} MB each)")
    print(f"  instance images: {per_instance_s:.1f} s and {per_instance_mb:.1f} MB each")
    shared = (env_mb + per_instance_mb * n) / n
    print(
        f"  disk per instance with shared environments: {shared:.0f} MB, "
        f"ratio {shared / (env_mb / len(envs) + per_instance_mb):.2f} of one environment per instance"
    )
    print(f"  build time per instance: {(env_seconds + per_instance_s * n) / n:.1f} s")


def main() -> None:
    measure("bundled benchmark", load_instances("bundled").to_dict("records"))
    if os.environ.get("LITE") and (LITE / "lite_test.jsonl").exists():
        rows = [json.loads(line) for line in (LITE / "lite_test.jsonl").read_text().splitlines()]
        flask = load_instances(
            str(LITE / "lite_test.jsonl"), instance_ids=[r["instance_id"] for r in rows if r["repo"] == "pallets/flask"]
        )
        measure("SWE-bench Lite, flask", flask.to_dict("records"), LITE / "mirrors")


if __name__ == "__main__":
    main()
