"""Instance images for rows that carry none: one environment image per repository, version and `install`
command (the repository at /testbed with its environment installed, as the local harness's virtualenv:
pytest, then `install`, default `pip install -e .`), and on top of it one image per instance with /testbed
at the instance's base commit.

The base commit's checkout is self-contained (its objects copied out of the mirror) and holds no history
after the base commit, like the workspaces. Each image's tag holds a hash of its inputs (the image it is
built on, the Dockerfile, the commit), so an image is reused until an input changes, and rebuilt then.
Builds of the same image by parallel runs wait for each other (a file lock).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from cookbook.files import file_lock
from cookbook.git import git
from cookbook.images.base import ensure_base_image
from cookbook.images.build import build_image, image_exists, image_id, inputs_hash
from cookbook.paths import cookbook_dir
from cookbook.testbeds.checkout import prepare_workspace
from cookbook.testbeds.virtualenv import TEST_RUNNER_INSTALL, default_install

ENV_DOCKERFILE = """\
FROM {base}
COPY testbed /testbed
COPY install.sh /cookbook/install.sh
WORKDIR /testbed
# as the local harness's virtualenv: its python first, the checkout's code importable, no bytecode files
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONPATH=/testbed/src:/testbed \\
    PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv && {test_runner} && bash -e /cookbook/install.sh
"""

INSTANCE_DOCKERFILE = """\
FROM {env}
RUN rm -rf /testbed
COPY testbed /testbed
"""


def images_dir() -> Path:
    return cookbook_dir() / "images"


def docker_name(text: str) -> str:
    """`text` as a component of an image's repository name (lower case; `.`, `_`, `__`, `-` between words)."""

    def separator(match: re.Match) -> str:
        sep = match.group()
        return sep if sep in (".", "_", "__") or set(sep) == {"-"} else "-"

    return re.sub(r"[^a-z0-9]+", separator, text.lower().replace("/", "__")).strip("._-") or "x"


def docker_tag(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:100]


def instance_image(instance: dict, repos_dir: Path | str | None = None) -> str:
    """The name of `instance`'s image, built (with its environment image and the base) when missing."""
    base = ensure_base_image(images_dir() / "logs")
    env = environment_image(instance, base, repos_dir)
    dockerfile = INSTANCE_DOCKERFILE.format(env=env)
    key = inputs_hash(image_id(env), dockerfile, instance["base_commit"])
    tag = f"cookbook/sweb.eval.{docker_name(instance['instance_id'])}:{key}"
    labels = {"cookbook.instance": instance["instance_id"], "cookbook.base_commit": instance["base_commit"]}
    _ensure(tag, dockerfile, instance, labels, repos_dir)
    return tag


def environment_image(instance: dict, base: str, repos_dir: Path | str | None = None) -> str:
    """The image with the instance's repository and version installed (built once, from the checkout
    of the first instance that needs it, as the local harness's virtualenv)."""
    install = instance.get("install") or ""
    dockerfile = ENV_DOCKERFILE.format(base=base, test_runner=TEST_RUNNER_INSTALL)
    key = inputs_hash(image_id(base), dockerfile, instance["repo"], instance["version"], install)
    tag = f"cookbook/env.{docker_name(instance['repo'])}:{docker_tag(instance['version'])}-{key}"
    labels = {"cookbook.repo": instance["repo"], "cookbook.version": instance["version"]}
    _ensure(tag, dockerfile, instance, labels, repos_dir, install=install)
    return tag


def _ensure(tag: str, dockerfile: str, instance: dict, labels: dict, repos_dir, install: str | None = None) -> None:
    """Build `tag` from a context holding the instance's checkout (and, for an environment image, its
    install script) unless it exists."""
    if image_exists(tag):
        return
    lock = images_dir() / "locks" / f"{tag.replace('/', '_').replace(':', '_')}.lock"
    with file_lock(lock):
        if image_exists(tag):  # built by a parallel run while this one waited
            return
        with tempfile.TemporaryDirectory(prefix="cookbook-image-") as tmp:
            context = Path(tmp)
            standalone_checkout(instance, context / "testbed", repos_dir)
            if install is not None:
                script = default_install(context / "testbed", install)
                (context / "install.sh").write_text(f"{script}\n" if script else "true\n")
            log = images_dir() / "logs" / f"{tag.replace('/', '_').replace(':', '_')}.log"
            build_image(tag, dockerfile, context, labels, log)


def standalone_checkout(instance: dict, dest: Path, repos_dir: Path | str | None = None) -> None:
    """A checkout of the instance's repository at its base commit at `dest`, with its own copy of the
    objects it reaches (none of the mirror's later history), for an image's /testbed."""
    workspace = prepare_workspace(instance, root=dest.parent, repos_dir=repos_dir)
    try:
        git("repack", "-a", "-d", "-q", cwd=workspace)  # the borrowed objects, copied in
        (workspace / ".git" / "objects" / "info" / "alternates").unlink()
        workspace.rename(dest)
    except BaseException:
        shutil.rmtree(workspace, ignore_errors=True)
        raise
