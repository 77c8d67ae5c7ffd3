"""The parts of an agent run, assembled in one place for `run_act` and the preflight: the agent (from the
agents' registry), the harness that scores its patches (the data's, unless one is named) and the testbed
that prepares where it runs (the one the agent and the harness need)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cookbook.agents import make_agent
from cookbook.harnesses import choose_harness, get_harness
from cookbook.seams import Agent, Harness, Testbed
from cookbook.testbeds import make_testbed, testbed_for


@dataclass
class Parts:
    agent: Agent
    harness: Harness
    testbed: Testbed


def assemble(
    agent: str | Agent,
    model: str,
    harness: str | Harness | None,
    instances: list[dict],
    repos_dir: Path | str | None = None,
    **harness_options,
) -> Parts:
    """The agent (a name, or an adapter as it is) for `model`; the harness (None: the one the data asks
    for; `local` on rows that name images is refused here, before any work) made with `harness_options`;
    and the testbed that matches both."""
    if isinstance(agent, str):
        agent = make_agent(agent, model)
    harness = choose_harness(harness, instances)
    if isinstance(harness, str):
        harness = get_harness(harness, repos_dir=repos_dir, **harness_options)
    testbed = make_testbed(testbed_for(harness, agent), repos_dir, agent_files=agent.files)
    return Parts(agent, harness, testbed)
