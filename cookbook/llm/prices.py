"""List prices of models, USD per million tokens, and what a call's usage costs at them.

Usage is counted the OpenAI way (`cookbook.llm.usage.Usage`): `prompt_tokens` holds every input token,
of which `cached_tokens` were read from the provider's prompt cache (billed at the cached price) and
`cache_write_tokens` were written to it (Anthropic bills those above the input price). Reasoning tokens
are part of `completion_tokens` and billed as output. A model is priced by its family (a dated name is
its family's); a model with no price (a scripted one, an unknown one) costs None, never a guess, and an
unknown one is warned about once.
"""

from __future__ import annotations

import threading
import warnings

from cookbook.llm.models import PRICES, SCRIPTED_MODELS, Price, family
from cookbook.llm.usage import Usage

_warned: set[str] = set()
_warned_lock = threading.Lock()


def price_of(model: str, prices: dict[str, Price] | None = None) -> Price | None:
    """The model's price (by exact name, then by family), or None."""
    table = prices or PRICES
    return table.get(model) or table.get(family(model))


def has_price(model: str, prices: dict[str, Price] | None = None) -> bool:
    return price_of(model, prices) is not None


def cost_usd(model: str, usage: Usage, prices: dict[str, Price] | None = None) -> float | None:
    """What `usage` of `model` costs in USD at list prices; None when the model has no price (warned once
    per unknown model)."""
    found = price_of(model, prices)
    if found is None:
        _warn_unknown(model)
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    fresh = usage.prompt_tokens - cached - written
    write_price = found.input if found.cache_write is None else found.cache_write
    total = (
        fresh * found.input
        + cached * found.cached_input
        + written * write_price
        + usage.completion_tokens * found.output
    )
    return round(total / 1e6, 8)


def price(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    prices: dict[str, Price] | None = None,
    cached_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> float | None:
    """`cost_usd` from token counts."""
    usage = Usage(prompt_tokens, completion_tokens, cached_tokens=cached_tokens, cache_write_tokens=cache_write_tokens)
    return cost_usd(model, usage, prices)


def unpriced(models: list[str], prices: dict[str, Price] | None = None) -> list[str]:
    """The models among `models` that have no price (a USD budget cannot be kept with them)."""
    return sorted({m for m in models if not has_price(m, prices)})


def _warn_unknown(model: str) -> None:
    if model in SCRIPTED_MODELS:  # the project's own scripted models have no price, and that is no news
        return
    with _warned_lock:
        if model in _warned:
            return
        _warned.add(model)
    warnings.warn(
        f"prices: no list price for model {model!r}; its cost is shown as unknown (None). "
        "Add it to cookbook.llm.models.MODELS (or pass prices=) to count it.",
        stacklevel=3,
    )


__all__ = ["PRICES", "Price", "cost_usd", "has_price", "price", "price_of", "unpriced"]
