"""What the project knows about models by name: their family, whether they reason, their limits, prices.

One small table, read by the client (what to send), the optimizer (how much fits), the prices and the
scripted server (which must treat a model as the real API does). A dated name (`gpt-4.1-2025-04-14`,
`claude-sonnet-4-5-20250929`) or a routed one (`openai/gpt-5`) is its family's; a model not in the
table has no known limits (None) and is not a reasoning model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """USD per million tokens. `cached_input`: a prompt-cache read; `cache_write`: a prompt-cache write
    (Anthropic; None where writing is free, as at OpenAI)."""

    input: float
    output: float
    cached_input: float
    cache_write: float | None = None


@dataclass(frozen=True)
class ModelLimits:
    """Tokens: `window` for the request and its answer together, `max_input` for the request alone (when
    the provider caps it below the window), `max_output` for the answer (reasoning included)."""

    window: int
    max_output: int
    max_input: int | None = None


# One row per model family: its limits and its list price (None: no price known). Adding a model is one line.
# gpt-5: a 400k window, of which the request may take 272k and the answer (reasoning included) 128k.
# Anthropic: cache writes (5-minute) at 1.25x the input price, cache reads at 0.1x.
MODELS: dict[str, tuple[ModelLimits, Price | None]] = {
    "gpt-5": (ModelLimits(400_000, 128_000, 272_000), Price(1.25, 10.0, 0.125)),
    "gpt-5-mini": (ModelLimits(400_000, 128_000, 272_000), Price(0.25, 2.0, 0.025)),
    "gpt-5-nano": (ModelLimits(400_000, 128_000, 272_000), Price(0.05, 0.4, 0.005)),
    "gpt-5.1": (ModelLimits(400_000, 128_000, 272_000), Price(1.25, 10.0, 0.125)),
    "gpt-4.1": (ModelLimits(1_047_576, 32_768), Price(2.0, 8.0, 0.5)),
    "gpt-4.1-mini": (ModelLimits(1_047_576, 32_768), Price(0.4, 1.6, 0.1)),
    "gpt-4.1-nano": (ModelLimits(1_047_576, 32_768), Price(0.1, 0.4, 0.025)),
    "gpt-4o": (ModelLimits(128_000, 16_384), Price(2.5, 10.0, 1.25)),
    "gpt-4o-mini": (ModelLimits(128_000, 16_384), Price(0.15, 0.6, 0.075)),
    "o3": (ModelLimits(200_000, 100_000), Price(2.0, 8.0, 0.5)),
    "o3-mini": (ModelLimits(200_000, 100_000), None),
    "o4-mini": (ModelLimits(200_000, 100_000), Price(1.1, 4.4, 0.275)),
    "claude-sonnet-4-5": (ModelLimits(200_000, 64_000), Price(3.0, 15.0, 0.3, 3.75)),
    "claude-sonnet-4": (ModelLimits(200_000, 64_000), Price(3.0, 15.0, 0.3, 3.75)),
    "claude-opus-4-1": (ModelLimits(200_000, 32_000), Price(15.0, 75.0, 1.5, 18.75)),
    "claude-haiku-4-5": (ModelLimits(200_000, 64_000), Price(1.0, 5.0, 0.1, 1.25)),
}
LIMITS: dict[str, ModelLimits] = {name: known for name, (known, _) in MODELS.items()}
PRICES: dict[str, Price] = {name: price for name, (_, price) in MODELS.items() if price is not None}

DEMO_MODEL = "demo-model"  # the offline demo's scripted model: no price, no known limits
SCRIPTED_MODELS = {DEMO_MODEL, "scripted-model"}  # the project's scripted models (the demo's, the tests')

DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")  # OpenAI's -2025-04-14, Anthropic's -20250929
REASONING_FAMILY = re.compile(r"^(gpt-5(\.\d+)?(-mini|-nano|-pro|-codex)?|o\d(-mini|-pro)?)$")


def family(model: str) -> str:
    """The family name of a model: no provider prefix (`openai/`), no date suffix, no `-latest`."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    return DATE_SUFFIX.sub("", name.removesuffix("-latest"))


def is_reasoning(model: str) -> bool:
    """A reasoning model (gpt-5 family, o-series): its answer budget covers hidden reasoning tokens, it
    takes `reasoning_effort`, and it rejects `max_tokens` and a non-default `temperature`.
    (`gpt-5-chat-latest` is ChatGPT's non-reasoning model.)"""
    return bool(REASONING_FAMILY.match(family(model)))


def limits(model: str) -> ModelLimits | None:
    """The model's limits, or None when the project does not know them."""
    return LIMITS.get(family(model))


def default_answer_tokens(model: str) -> int:
    """An answer budget for one judge or optimizer call: room for the reasoning a reasoning model spends
    at the default effort (often 10k+ tokens on a large meta-prompt) plus the answer itself."""
    budget = 32_000 if is_reasoning(model) else 8_000
    known = limits(model)
    return min(budget, known.max_output) if known else budget
