"""The LLM client of the judge and the optimizer: any OpenAI-compatible endpoint, retries, a disk cache
and token accounting.

Transport retries (429, 5xx, connection errors) with exponential backoff are the `openai` client's own
(`max_retries`). A reply is cached on disk by the hash of everything that shapes it (endpoint, model,
messages, response format, output limit), so a re-run costs nothing; `cache=False` turns it off.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from config import cookbook_dir
from util import atomic_write_text

# USD per 1M tokens (input, output), list prices; unknown models cost None. Override with `prices=`.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.4),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
}


@dataclass
class LLMReply:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    duration_s: float
    cached: bool = False


def price(
    model: str, prompt_tokens: int, completion_tokens: int, prices: dict[str, tuple[float, float]] | None = None
) -> float | None:
    table = prices or PRICES
    if model not in table:
        return None
    inp, out = table[model]
    return round((prompt_tokens * inp + completion_tokens * out) / 1e6, 6)


class LLMClient:
    """A chat client for one model. `base_url` / `api_key` default to OPENAI_BASE_URL / OPENAI_API_KEY."""

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = 5,
        timeout: float = 600,
        cache: bool = True,
        cache_dir: Path | str | None = None,
        prices: dict[str, tuple[float, float]] | None = None,
    ):
        import openai

        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if not api_key:
            raise ValueError(f"No API key for {model}: set OPENAI_API_KEY (or pass api_key=).")
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key, max_retries=max_retries, timeout=timeout)
        self.cache = cache
        self.cache_dir = Path(cache_dir) if cache_dir else cookbook_dir() / "llm_cache"
        self.prices = prices
        self._lock = threading.Lock()
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost_usd = 0.0

    def chat(
        self,
        messages: list[dict],
        response_format: dict | None = None,
        max_tokens: int | None = None,
        use_cache: bool = True,
        cache_if: Callable[[LLMReply], bool] | None = None,
    ) -> LLMReply:
        """One chat completion (not streamed). Raises the openai client's errors after its retries.
        A reply is cached only if `cache_if(reply)` (default: always), so a bad reply is not served again."""
        request: dict = {"model": self.model, "messages": messages}
        if response_format:
            request["response_format"] = response_format
        if max_tokens:
            request["max_completion_tokens"] = max_tokens
        key = hashlib.sha256(json.dumps([self.base_url, request], sort_keys=True).encode()).hexdigest()
        cache_file = self.cache_dir / key[:2] / f"{key}.json"
        if self.cache and use_cache and cache_file.exists():
            return LLMReply(**{**json.loads(cache_file.read_text()), "cached": True})
        start = time.monotonic()
        completion = self.client.chat.completions.create(**request)
        choice = completion.choices[0]
        usage = completion.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        reply = LLMReply(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason or "",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=price(self.model, prompt_tokens, completion_tokens, self.prices),
            duration_s=round(time.monotonic() - start, 3),
        )
        with self._lock:
            self.calls += 1
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.cost_usd += reply.cost_usd or 0.0
        if self.cache and (cache_if is None or cache_if(reply)):
            atomic_write_text(cache_file, json.dumps(asdict(reply)))
        return reply


def count_tokens(text: str, model: str) -> int:
    return len(encoding_for(model).encode(text, disallowed_special=()))


@functools.cache
def encoding_for(model: str):
    """tiktoken's encoding for the model; o200k_base (GPT-4o, GPT-5 family) for models it does not know."""
    import tiktoken

    _seed_tiktoken_cache()
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding("o200k_base")


def _seed_tiktoken_cache() -> None:
    """tiktoken downloads its vocabularies on first use, which fails offline. The `bpe-openai` package
    ships the same files (tiktoken checks their sha256), so they are put where tiktoken's cache looks."""
    import importlib.resources

    import tiktoken_ext.openai_public

    cache_dir = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cookbook_dir() / "tiktoken")))
    source = Path(tiktoken_ext.openai_public.__file__).read_text()
    for name in ("o200k_base", "cl100k_base"):
        match = re.search(rf'"([^"]+/{name}\.tiktoken)"', source)
        if not match:
            continue
        target = cache_dir / hashlib.sha1(match.group(1).encode()).hexdigest()
        if not target.exists():
            try:
                packed = (importlib.resources.files("bpe_openai") / "data" / f"{name}.tiktoken.gz").read_bytes()
            except (ModuleNotFoundError, FileNotFoundError):
                continue  # tiktoken will try to download it
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.partial")
            partial.write_bytes(gzip.decompress(packed))
            os.replace(partial, target)


def count_message_tokens(messages: list[dict], model: str) -> int:
    """Tokens of a chat request's messages as OpenAI counts them (content plus a few per message)."""
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    for message in messages:
        total += 4 + count_tokens(str(message.get("content") or ""), model)
    return total


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
