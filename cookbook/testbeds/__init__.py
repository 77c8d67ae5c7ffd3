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

from cookbook.seams import Agent, Testbed


def make_testbed(harness: str, agent: Agent, repos_dir: Path | str | None = None) -> Testbed:
    """The testbed that matches the harness the patches are scored by, and the agent: an agent that brings
    its own environment gets a plain checkout; with the local harness, the local testbed; with SWE-bench's
    harnesses (docker, modal), the instance image's /testbed."""
    if agent.brings_environment:
        from cookbook.testbeds.plain import PlainCheckoutTestbed

        return PlainCheckoutTestbed(repos_dir)
    if harness == "local":
        from cookbook.testbeds.local import LocalTestbed

        return LocalTestbed(repos_dir)
    from cookbook.testbeds.docker import DockerTestbed

    return DockerTestbed(repos_dir, agent_files=agent.files)
