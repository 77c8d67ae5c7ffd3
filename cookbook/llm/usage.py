"""A call's token usage in one form, read from either API's `usage` object.

OpenAI: `prompt_tokens` (cached ones included, in `prompt_tokens_details.cached_tokens`) and
`completion_tokens` (reasoning included, in `completion_tokens_details.reasoning_tokens`).
Anthropic: `input_tokens` *excludes* the cache: the prompt is `input_tokens + cache_creation_input_tokens
+ cache_read_input_tokens`; `output_tokens` is the answer. Both become a `Usage`, counted the OpenAI way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Usage:
    prompt_tokens: int = 0  # every input token, cached and cache-written ones included
    completion_tokens: int = 0  # every output token, reasoning included
    cached_tokens: int = 0  # input tokens read from the prompt cache
    cache_write_tokens: int = 0  # input tokens written to the prompt cache (Anthropic)
    reasoning_tokens: int = 0  # hidden reasoning tokens among the completion tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


def _int(value) -> int:
    return int(value) if isinstance(value, int | float) else 0


def usage_from(raw: dict | None) -> Usage:
    """A `Usage` from an OpenAI or an Anthropic `usage` object (missing fields count 0)."""
    raw = raw or {}
    if "input_tokens" in raw or "output_tokens" in raw:  # Anthropic's Messages API
        read = _int(raw.get("cache_read_input_tokens"))
        written = _int(raw.get("cache_creation_input_tokens"))
        return Usage(
            prompt_tokens=_int(raw.get("input_tokens")) + read + written,
            completion_tokens=_int(raw.get("output_tokens")),
            cached_tokens=read,
            cache_write_tokens=written,
        )
    return Usage(
        prompt_tokens=_int(raw.get("prompt_tokens")),
        completion_tokens=_int(raw.get("completion_tokens")),
        cached_tokens=_int((raw.get("prompt_tokens_details") or {}).get("cached_tokens")),
        reasoning_tokens=_int((raw.get("completion_tokens_details") or {}).get("reasoning_tokens")),
    )
