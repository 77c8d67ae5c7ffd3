import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import LocalHarness  # noqa: E402
from swebench_data import load_instances  # noqa: E402


@pytest.fixture(scope="session")
def bundled():
    """The bundled benchmark as a DataFrame (its mirrors built in the cookbook dir, reused)."""
    return load_instances("bundled")


@pytest.fixture(scope="session")
def local_harness():
    """The Docker-less harness; its environments live in the cookbook dir and are reused."""
    return LocalHarness(workers=2)


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory):
    """One real `phoenix serve` for the test session, started by the project's own code."""
    from phoenix_experiments import ensure_phoenix, stop_phoenix

    saved = {
        name: os.environ.pop(name)
        for name in ("PHOENIX_HOST", "PHOENIX_COLLECTOR_ENDPOINT", "PHOENIX_API_KEY")
        if name in os.environ
    }
    working_dir = tmp_path_factory.mktemp("phoenix")
    url = ensure_phoenix(working_dir, quiet=True)
    assert ensure_phoenix(working_dir, quiet=True) == url  # a second call reuses the running server
    yield url
    assert stop_phoenix(working_dir)
    os.environ.update(saved)
