"""Reading chat requests of either wire format (OpenAI chat completions, Anthropic messages)."""

from __future__ import annotations


def messages_text(request: dict, *roles: str) -> str:
    """All text of the messages with these roles in a chat request, joined (content parts flattened).
    Anthropic's Messages API keeps the system prompt apart, in `system`: it counts as role "system"."""
    parts = []
    system = request.get("system")
    if "system" in roles and isinstance(system, str):
        parts.append(system)
    elif "system" in roles and isinstance(system, list):
        parts.extend(p.get("text", "") for p in system if isinstance(p, dict))
    for message in request.get("messages", []):
        if message.get("role") not in roles:
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def system_prompt(request: dict) -> str:
    """The system prompt of an OpenAI chat request (system and developer messages) or an Anthropic one."""
    return messages_text(request, "system", "developer")
