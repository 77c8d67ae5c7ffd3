"""The base image every project-built image starts from: Debian with Python 3, venv, pip, git and patch,
trusting this machine's CA bundle (so that builds and containers reach the package index through a
TLS-inspecting proxy as this machine does).

Made once and reused (`cookbook/base:<BASE_VERSION>`), from the first source that works:
1. `COOKBOOK_BASE_IMAGE`, when set (any Debian-like image with Python 3; pulled if missing);
2. a Debian image this project imported earlier (`cookbook/debian:bookworm-minbase`);
3. `python:3.11-slim` from the registry (a user's machine);
4. Debian's own packages, where no registry is reachable: `debootstrap --variant=minbase bookworm`
   imported with `docker import` (needs root and debootstrap; about a minute).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from cookbook.images.build import build_image, image_exists, inputs_hash
from cookbook.seams import HarnessError

DEBIAN_IMAGE = "cookbook/debian:bookworm-minbase"
REGISTRY_IMAGE = "python:3.11-slim"
DEBIAN_PACKAGES = "python3,python3-venv,python3-pip,git,patch,procps,ca-certificates"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CERT_ENV = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO")

BASE_DOCKERFILE = """\
FROM {source}
SHELL ["/bin/bash", "-c"]
# git and patch apply patches; swebench stops a test run over its deadline with `kill`
RUN type -P git patch kill >/dev/null || \\
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends git patch procps ca-certificates \\
     && rm -rf /var/lib/apt/lists/*)
{copy_certs}
ENV {cert_env} LANG=C.UTF-8
# /testbed may be a bind mount owned by the host's user
RUN git config --system --add safe.directory '*'
# containers idle on `sleep` / `tail` as PID 1, which ignores SIGTERM: stop them at once
STOPSIGNAL SIGKILL
CMD ["bash"]
"""
BASE_IMAGE = f"cookbook/base:{inputs_hash(BASE_DOCKERFILE)}"  # a changed Dockerfile makes a new base (and images)


def ensure_base_image(log_dir: Path) -> str:
    """The base image's name, built first if missing (see the module's docstring)."""
    wanted_source = os.environ.get("COOKBOOK_BASE_IMAGE", "")
    if image_exists(BASE_IMAGE):
        from cookbook.docker_engine import client

        built_from = client().images.get(BASE_IMAGE).labels.get("cookbook.source", "")
        if not wanted_source or built_from == wanted_source:
            return BASE_IMAGE
    source = wanted_source or _source_image(log_dir)
    certs = CA_BUNDLE.exists()
    dockerfile = BASE_DOCKERFILE.format(
        source=source,
        copy_certs="COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt" if certs else "",
        cert_env=" ".join(f"{name}=/etc/ssl/certs/ca-certificates.crt" for name in CERT_ENV),
    )
    with tempfile.TemporaryDirectory(prefix="cookbook-base-") as context:
        if certs:
            shutil.copy(CA_BUNDLE, Path(context) / "ca-certificates.crt")
        build_image(BASE_IMAGE, dockerfile, Path(context), {"cookbook.source": source}, log_dir / "base.log")
    return BASE_IMAGE


def _source_image(log_dir: Path) -> str:
    """The image the base is built from when none is configured."""
    from cookbook.docker_engine import client

    if image_exists(DEBIAN_IMAGE):
        return DEBIAN_IMAGE
    try:
        client().images.pull(REGISTRY_IMAGE)
        return REGISTRY_IMAGE
    except Exception as e:
        registry_error = f"{type(e).__name__}: {e}"
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        raise HarnessError(
            f"No base image for the project's instance images: {REGISTRY_IMAGE} cannot be pulled "
            f"({registry_error}), and building one from Debian's packages needs root and debootstrap "
            "(`make docker-engine` installs it). Or set COOKBOOK_BASE_IMAGE to a local Debian image with Python 3."
        )
    import_debian(DEBIAN_IMAGE, log_dir / "debootstrap.log")
    return DEBIAN_IMAGE


def import_debian(name: str, log_path: Path, mirror: str | None = None) -> None:
    """debootstrap a minimal Debian bookworm with Python and git, and `docker import` it as `name`."""
    mirror = mirror or os.environ.get("COOKBOOK_DEBIAN_MIRROR") or "http://deb.debian.org/debian"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"Building the base image {name} from Debian's packages (debootstrap, about a minute)…", flush=True)
    start = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="cookbook-debootstrap-"))
    try:
        with open(log_path, "w") as log:
            command = ["debootstrap", "--variant=minbase", f"--include={DEBIAN_PACKAGES}", "bookworm"]
            command += [str(root), mirror]
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                raise HarnessError(f"debootstrap failed ({done.returncode}); see {log_path}")
            for package in (root / "var" / "cache" / "apt" / "archives").glob("*.deb"):
                package.unlink()
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            imported = subprocess.run(["docker", "import", "-", name], stdin=tar.stdout, stdout=log, stderr=log)
            tar.stdout.close()
            if tar.wait() != 0 or imported.returncode != 0:
                raise HarnessError(f"docker import of the Debian tree failed; see {log_path}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"Base image {name} built in {time.monotonic() - start:.0f} s.", flush=True)
