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
