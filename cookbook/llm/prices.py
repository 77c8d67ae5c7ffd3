"""List prices of models, USD per million tokens."""

from __future__ import annotations

# (input, output) per 1M tokens; unknown models cost None. Override with `prices=`.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.4),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
}


def price(
    model: str, prompt_tokens: int, completion_tokens: int, prices: dict[str, tuple[float, float]] | None = None
) -> float | None:
    table = prices or PRICES
    if model not in table:
        return None
    inp, out = table[model]
    return round((prompt_tokens * inp + completion_tokens * out) / 1e6, 6)
