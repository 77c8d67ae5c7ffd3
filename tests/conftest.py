import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from cookbook.data import load_instances
from cookbook.harnesses.local import LocalHarness
from cookbook.loop import run_paths


@pytest.fixture(scope="session")
def bundled():
    """The bundled benchmark as a DataFrame (its mirrors built in the cookbook dir, reused)."""
    return load_instances("bundled")


@pytest.fixture(scope="session")
def local_harness():
    """The Docker-less harness; its environments live in the cookbook dir and are reused."""
    return LocalHarness(workers=2)


@pytest.fixture(scope="session")
def phoenix(phoenix_server):
    """The URL of the test session's Phoenix."""
    return phoenix_server[0]


@pytest.fixture(scope="session")
def phoenix_server(tmp_path_factory):
    """One real `phoenix serve` for the test session, started by the project's own code: (url, working dir)."""
    from phoenix_experiments import ensure_phoenix, stop_phoenix

    saved = {
        name: os.environ.pop(name)
        for name in ("PHOENIX_HOST", "PHOENIX_COLLECTOR_ENDPOINT", "PHOENIX_API_KEY")
        if name in os.environ
    }
    working_dir = tmp_path_factory.mktemp("phoenix")
    url = ensure_phoenix(working_dir, quiet=True)
    assert ensure_phoenix(working_dir, quiet=True) == url  # a second call reuses the running server
    yield url, working_dir
    assert stop_phoenix(working_dir)
    os.environ.update(saved)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Offline demo mode (no provider variables); the scripted server logs every request to the returned file."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("COOKBOOK_DEMO_REQUEST_LOG", str(log))
    return log


def logged_requests(log) -> list[dict]:
    """The request bodies the offline demo's scripted server logged."""
    return [json.loads(line)["body"] for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def run_name():
    """A fresh run name; its act_results/ and act_rulesets/ folders are removed afterwards."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    for path in run_paths(name):
        subprocess.run(["rm", "-rf", str(path)], check=False)


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and proc.name != str(os.getpid()):
            try:
                if text.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


def wait_until_gone(text: str, seconds: float = 10) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return left


def run_notebook(output: Path, **parameters) -> None:
    """Execute the project's notebook headless (papermill) with these parameters into `output`."""
    import papermill

    from cookbook.paths import PROJECT_DIR

    papermill.execute_notebook(
        str(PROJECT_DIR / "optimize_cline_act.ipynb"),
        str(output),
        parameters=parameters,
        cwd=str(PROJECT_DIR),
        progress_bar=False,
    )


@pytest.fixture(scope="session")
def docker_engine():
    """The machine's Docker engine (`make test` starts one: `make docker-engine`); the docker tests run
    for real, so a missing engine fails them rather than skipping them."""
    from cookbook.docker_engine import DockerUnavailable, check_engine

    try:
        check_engine("The docker tests", "")
    except DockerUnavailable as e:
        pytest.fail(str(e))


def leftover_containers() -> list[str]:
    """Containers of the project's (labelled) or of its swebench runs and image builds that still exist and
    belong to this process, to one under it (a run a test started) or to one that is gone (another live
    run's containers are its own business)."""
    from cookbook.docker_engine import OWNER_LABEL, UNLABELLED_CONTAINER, owner, owner_gone

    done = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}\t{{.Label `" + OWNER_LABEL + "`}}\t{{.Labels}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    left = []
    for line in done.stdout.splitlines():
        name, container_owner, labels = (line.split("\t") + ["", ""])[:3]
        match = UNLABELLED_CONTAINER.match(name)
        if match:
            container_owner = f"{match.group(2)}:{match.group(3)}"
        elif "cookbook=1" not in labels:
            continue
        host, _, pid = container_owner.partition(":")
        if not container_owner or container_owner == owner() or owner_gone(host, pid) or _under_this_process(pid):
            left.append(name)
    return left


def _under_this_process(pid: str) -> bool:
    """True for a process started (at any depth) by this one."""
    while pid.isdigit() and int(pid) > 1:
        try:
            pid = (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            return False
        if pid == str(os.getpid()):
            return True
    return False
