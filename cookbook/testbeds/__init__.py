"""Testbeds: where an agent runs (see `cookbook.seams.Testbed`).

- `local` (`local.py`): a checkout at the base commit with the repository's virtualenv first on PATH
  (the local harness's instances: the bundled benchmark, a user's pip-installable repositories); the
  agent runs in PID and mount namespaces of its own (`namespaces.py`).
- `docker` (`docker.py`): the instance image's /testbed; the agent runs inside a container of the image,
  which reaches nothing but the gateway (SWE-bench instances, or any row, whose image the project then
  builds).
- `checkout` (`plain.py`): a plain checkout, for an agent that brings its own environment.

The checkouts and virtualenvs they are made of are `cookbook.workspaces` (the images and the local harness use
them too).
"""

from __future__ import annotations

from pathlib import Path

from cookbook.registry import load_class
from cookbook.seams import Agent, Harness, Testbed

# The registry: name → its adapter ("module:class", imported when asked for); `testbed_for` says which one an
# agent and a harness need.
TESTBED_CLASSES = {
    "local": "cookbook.testbeds.local:LocalTestbed",
    "docker": "cookbook.testbeds.docker:DockerTestbed",
    "checkout": "cookbook.testbeds.plain:PlainCheckoutTestbed",
}
TESTBEDS = tuple(TESTBED_CLASSES)


def testbed_for(harness: Harness, agent: Agent) -> str:
    """The testbed the agent runs in: a plain checkout for an agent that brings its own environment (a
    sandbox of its own, made from the instance image), else the one the harness scores in (`testbed`)."""
    return "checkout" if agent.brings_environment else harness.testbed


def make_testbed(name: str, repos_dir: Path | str | None = None, agent_files: tuple[Path, ...] = ()) -> Testbed:
    """The testbed named `name` (one of TESTBEDS); `agent_files`: the agent's installation, given to it
    read-only where it runs."""
    return load_class(TESTBED_CLASSES, name, "testbed")(repos_dir, agent_files=agent_files)
