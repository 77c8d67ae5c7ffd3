"""Coding agents behind the Agent protocol (`cookbook.seams`): each runs in a prepared workspace with a
ruleset against an endpoint (the recording gateway's URL for its run) and says how it ended. The patch is
taken afterwards with `git diff`, so an adapter only has to run its agent well: isolated state per run,
the rules where the agent reads them, completion detected when the process exits, and a deadline that
kills the whole process group.

- `cline` (`cline.py`): the Cline CLI, rules in `.clinerules`.
- `cline-modal` (`cline_modal.py`): Cline in a Modal sandbox made from the instance image.
- `claude-code` (`claude_code.py`): Claude Code, rules appended to its system prompt.
"""

from __future__ import annotations

from cookbook.seams import Agent

AGENTS = ("cline", "cline-modal", "claude-code")


def make_agent(name: str, model: str, **options) -> Agent:
    """The agent named `name` (one of AGENTS) for `model`; options go to its adapter."""
    if name == "cline":
        from cookbook.agents.cline import ClineAgent

        return ClineAgent(model, **options)
    if name == "cline-modal":
        from cookbook.agents.cline_modal import ModalClineAgent

        return ModalClineAgent(model, **options)
    if name == "claude-code":
        from cookbook.agents.claude_code import ClaudeCodeAgent

        return ClaudeCodeAgent(model, **options)
    raise ValueError(f"Unknown agent {name!r}; use one of {', '.join(AGENTS)}.")
