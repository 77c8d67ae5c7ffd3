"""The base images every project-built image starts from: one per Python, each a Debian with that Python
(venv and headers), git, patch, a compiler and uv, trusting this machine's CA bundle (so that builds reach
the package index through a TLS-inspecting proxy as this machine does).

Which Pythons there are (`available_pythons`): Debian's own — bullseye has 3.9, bookworm 3.11, trixie 3.13,
and Debian's package mirrors are reachable where no image registry is — and, where a registry answers, the
official `python:X.Y-slim` images (3.6 to 3.13).

A base is made once and reused (`cookbook/base:py<X.Y>-<hash of its Dockerfile>`), from the first source
that works:
1. `COOKBOOK_BASE_IMAGE`, when set: a template such as `registry.local/python:{python}-slim` (pulled if
   missing);
2. a Debian image this project imported earlier (`cookbook/debian:<suite>-minbase`);
3. `python:X.Y-slim` from the registry (a user's machine);
4. Debian's own packages, where no registry is reachable: `debootstrap --variant=minbase <suite>` imported
   with `docker import` (needs root and debootstrap; a minute or two).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

from cookbook.images.build import build_image, image_exists, inputs_hash
from cookbook.seams import HarnessError

# The Python of each Debian release whose packages this machine reaches, and when each Python came out
# (a repository is not expected to run on a Python released after its date).
DEBIAN_PYTHONS = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
REGISTRY_PYTHONS = ("3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
PYTHON_RELEASED = {
    "3.6": date(2016, 12, 23),
    "3.7": date(2018, 6, 27),
    "3.8": date(2019, 10, 14),
    "3.9": date(2020, 10, 5),
    "3.10": date(2021, 10, 4),
    "3.11": date(2022, 10, 24),
    "3.12": date(2023, 10, 2),
    "3.13": date(2024, 10, 7),
}
UV_VERSION = "0.13.9"  # uv resolves dependencies as of a date (--exclude-newer); pinned for repeatable builds

DEBIAN_PACKAGES = "python3,python3-venv,python3-dev,git,patch,procps,ca-certificates,build-essential,pkg-config"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CERT_ENV = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO")

BASE_DOCKERFILE = """\
FROM {source}
SHELL ["/bin/bash", "-c"]
# git and patch apply patches; swebench stops a test run over its deadline with `kill`; a compiler and
# pkg-config build extensions (the Python headers come with the source image)
RUN type -P git patch kill gcc g++ make pkg-config >/dev/null || \\
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
     git patch procps ca-certificates build-essential pkg-config && rm -rf /var/lib/apt/lists/*)
{copy_certs}
ENV {cert_env} LANG=C.UTF-8 UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never
# the image's Python under one name, and uv beside it (not in the repositories' environments)
RUN ln -sf "$(type -P python{python} || type -P python3)" /usr/local/bin/cookbook-python && \\
    cookbook-python -m venv /opt/uv && /opt/uv/bin/pip install -q --disable-pip-version-check uv=={uv} && \\
    ln -s /opt/uv/bin/uv /usr/local/bin/uv && \
    cookbook-python -c 'import sys; assert sys.version.startswith("{python}.")'
# /testbed may be a bind mount owned by the host's user
RUN git config --system --add safe.directory '*'
# containers idle on `sleep` / `tail` as PID 1, which ignores SIGTERM: stop them at once
STOPSIGNAL SIGKILL
CMD ["bash"]
"""


def base_image_name(python: str) -> str:
    """The base image of `python` (its tag holds a hash of the Dockerfile: a changed one makes a new base)."""
    return f"cookbook/base:py{python}-{inputs_hash(BASE_DOCKERFILE, python, UV_VERSION)}"


@functools.cache
def registry_reachable() -> bool:
    """True when the engine can reach Docker Hub (asked once per process, without pulling anything)."""
    from cookbook.docker_engine import client

    try:
        client().api.inspect_distribution("python:3.11-slim")
        return True
    except Exception:
        return False


def available_pythons() -> list[str]:
    """The Pythons an environment can have here, oldest first: Debian's, and the registry's where it answers."""
    pythons = set(DEBIAN_PYTHONS)
    if os.environ.get("COOKBOOK_BASE_IMAGE") or registry_reachable():
        pythons |= set(REGISTRY_PYTHONS)
    return sorted(pythons, key=lambda v: tuple(map(int, v.split("."))))


def ensure_base_image(python: str, log_dir: Path) -> str:
    """The base image of `python`, built first if missing (see the module's docstring)."""
    name = base_image_name(python)
    if image_exists(name):
        return name
    source = _source_image(python, log_dir)
    certs = CA_BUNDLE.exists()
    dockerfile = BASE_DOCKERFILE.format(
        source=source,
        python=python,
        uv=UV_VERSION,
        copy_certs="COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt" if certs else "",
        cert_env=" ".join(f"{var}=/etc/ssl/certs/ca-certificates.crt" for var in CERT_ENV),
    )
    with tempfile.TemporaryDirectory(prefix="cookbook-base-") as context:
        if certs:
            shutil.copy(CA_BUNDLE, Path(context) / "ca-certificates.crt")
        log = log_dir / f"base-py{python}.log"
        build_image(name, dockerfile, Path(context), {"cookbook.source": source, "cookbook.python": python}, log)
    return name


def _source_image(python: str, log_dir: Path) -> str:
    """The image a base is built from (see the module's docstring)."""
    from cookbook.docker_engine import client

    template = os.environ.get("COOKBOOK_BASE_IMAGE", "")
    if template:
        source = template.format(python=python)
        if not image_exists(source):
            client().images.pull(source)
        return source
    suite = DEBIAN_PYTHONS.get(python)
    debian = f"cookbook/debian:{suite}-minbase" if suite else ""
    if debian and image_exists(debian):
        return debian
    registry_error = "no registry answers"
    if registry_reachable():
        try:
            client().images.pull(f"python:{python}-slim")
            return f"python:{python}-slim"
        except Exception as e:
            registry_error = f"{type(e).__name__}: {e}"
    if not suite:
        raise HarnessError(
            f"Python {python} needs the image python:{python}-slim, which cannot be pulled ({registry_error})."
        )
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        raise HarnessError(
            f"No base image for Python {python}: python:{python}-slim cannot be pulled ({registry_error}), and "
            f"building one from Debian {suite}'s packages needs root and debootstrap (`make docker-engine` installs "
            "it). Or set COOKBOOK_BASE_IMAGE to an image template with Python, such as "
            "my.registry/python:{python}-slim."
        )
    import_debian(suite, debian, log_dir / f"debootstrap-{suite}.log")
    return debian


def import_debian(suite: str, name: str, log_path: Path, mirror: str | None = None) -> None:
    """debootstrap a minimal Debian `suite` with Python, git and a compiler, and `docker import` it as `name`."""
    mirror = mirror or os.environ.get("COOKBOOK_DEBIAN_MIRROR") or "http://deb.debian.org/debian"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"Building the base image {name} from Debian {suite}'s packages (debootstrap, a minute or two)…", flush=True)
    start = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="cookbook-debootstrap-"))
    try:
        with open(log_path, "w") as log:
            command = ["debootstrap", "--variant=minbase", f"--include={DEBIAN_PACKAGES}", suite, str(root), mirror]
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                raise HarnessError(f"debootstrap of Debian {suite} failed ({done.returncode}); see {log_path}")
            for package in (root / "var" / "cache" / "apt" / "archives").glob("*.deb"):
                package.unlink()
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            imported = subprocess.run(["docker", "import", "-", name], stdin=tar.stdout, stdout=log, stderr=log)
            tar.stdout.close()
            if tar.wait() != 0 or imported.returncode != 0:
                raise HarnessError(f"docker import of the Debian {suite} tree failed; see {log_path}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"Base image {name} built in {time.monotonic() - start:.0f} s.", flush=True)
