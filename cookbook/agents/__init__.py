"""Coding agents behind the Agent protocol (`cookbook.seams`): each runs in a prepared workspace with a
ruleset against an endpoint (the recording gateway's URL for its run) and says how it ended. The patch is
taken afterwards with `git diff`, so an adapter only has to run its agent well: isolated state per run,
the rules where the agent reads them, completion detected when the process exits, and a deadline that
kills the whole process group.

- `cline` (`cline.py`): the Cline CLI, rules in `.clinerules`.
- `cline-modal` (`cline_modal.py`): Cline in a Modal sandbox made from the instance image.
- `claude-code` (`claude_code.py`): Claude Code, rules appended to its system prompt.
- `mini-swe-agent` (`mini_swe_agent.py`): mini-swe-agent, a bash-only agent, rules appended to its system
  prompt; its loop in namespaces of its own, its commands in the workspace's sandbox.
"""

from __future__ import annotations

from cookbook.llm.endpoints import role_setting
from cookbook.registry import load_class
from cookbook.seams import Agent

# The registry: name → its adapter ("module:class", imported when asked for). Everything that lists agents
# (the configuration's choices, the CLI's, make_agent, the wire API of its model) reads it: adding an agent
# is one file and one line.
AGENT_CLASSES = {
    "cline": "cookbook.agents.cline:ClineAgent",
    "cline-modal": "cookbook.agents.cline_modal:ModalClineAgent",
    "claude-code": "cookbook.agents.claude_code:ClaudeCodeAgent",
    "mini-swe-agent": "cookbook.agents.mini_swe_agent:MiniSweAgent",
}
AGENTS = tuple(AGENT_CLASSES)


def agent_class(name: str) -> type:
    """The adapter class of the agent named `name` (one of AGENTS)."""
    return load_class(AGENT_CLASSES, name, "agent")


def make_agent(name: str, model: str, **options) -> Agent:
    """The agent named `name` (one of AGENTS) for `model`; options go to its adapter."""
    return agent_class(name)(model, **options)


def agent_api(agent: str | Agent | None) -> str | None:
    """The wire API of the agent's model when none is configured: AGENT_API, else the one the agent (a name
    or an adapter) declares (`api`: Claude Code speaks only Anthropic's Messages API), else None (the
    default, "openai")."""
    declared = agent_class(agent).api if isinstance(agent, str) else getattr(agent, "api", None)
    return role_setting("agent", "API") or declared
