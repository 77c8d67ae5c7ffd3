"""Counting tokens as OpenAI's models do (tiktoken), offline."""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import re
from pathlib import Path

from cookbook.paths import cookbook_dir


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


def fit_text(text: str, max_tokens: int, model: str, marker: str) -> str:
    """`text` cut (head kept, `marker` added) so that it counts at most `max_tokens` tokens."""
    if count_tokens(text, model) <= max_tokens:
        return text
    encoding = encoding_for(model)
    keep = max(0, max_tokens - count_tokens(marker, model) - 2)
    return encoding.decode(encoding.encode(text, disallowed_special=())[:keep]) + marker
