"""The LLM client of the judge and the optimizer: one Endpoint, retries, a disk cache and token accounting.

Transport retries (429 with its Retry-After, 5xx, connection errors) with exponential backoff are the
`openai` client's own (`max_retries`). What is sent follows the model: a reasoning model (gpt-5 family,
o-series) gets `max_completion_tokens` — which covers its hidden reasoning as well as its answer — and the
endpoint's `reasoning_effort`, never `max_tokens` or `temperature` (it rejects both with a 400).

A reply cut by the length limit (`finish_reason` "length", or no content at all: the reasoning used the
whole budget) is asked again with twice the room, up to `length_retries` times and the model's output
limit, and is never cached. A good reply is cached on disk by the hash of the first request (endpoint,
model, messages, response format, output limit, effort), so a re-run costs nothing; `cache=False` turns it
off. Every reply carries the tokens and cost of all the requests it took (what the provider bills).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from cookbook.credentials import scrubbed
from cookbook.files import atomic_write_text
from cookbook.llm.endpoints import ConfigurationError
from cookbook.llm.models import is_reasoning, limits
from cookbook.llm.prices import Price, cost_usd
from cookbook.llm.upstream import classify
from cookbook.llm.usage import Usage, usage_from
from cookbook.paths import cookbook_dir
from cookbook.seams import CookbookError, Endpoint


@dataclass
class LLMReply:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None: the model has no price (a scripted or unknown model)
    duration_s: float
    cached: bool = False  # read from the disk cache: no request was made
    reasoning_tokens: int = 0  # hidden reasoning, part of completion_tokens
    cached_tokens: int = 0  # prompt tokens read from the provider's prompt cache, part of prompt_tokens
    attempts: int = 1  # requests made: more than one when a cut reply was asked again with more room
    refusal: str = ""  # a structured-output refusal (content is then empty)

    @property
    def cut(self) -> bool:
        return is_cut(self.finish_reason, self.text, self.refusal)


def is_cut(finish_reason: str, text: str, refusal: str = "") -> bool:
    """A reply cut by the length limit: `finish_reason` "length", or nothing at all in it (a reasoning
    model that spent the whole budget thinking)."""
    return finish_reason == "length" or not (text.strip() or refusal)


class LLMClient:
    """A chat client for one model at one endpoint (OpenAI's chat completions API)."""

    def __init__(
        self,
        endpoint: Endpoint,
        max_retries: int = 5,
        timeout: float = 600,
        cache: bool = True,
        cache_dir: Path | str | None = None,
        prices: dict[str, Price] | None = None,
        length_retries: int = 2,
    ):
        import openai

        if endpoint.api != "openai":
            raise ConfigurationError(
                f"LLM client: {endpoint.model} at {endpoint.base_url} is an {endpoint.api!r} endpoint; the judge and "
                "the optimizer speak OpenAI's chat completions API. For a Claude judge use Anthropic's "
                "OpenAI-compatible endpoint (base URL https://api.anthropic.com/v1/, API kind 'openai')."
            )
        self.endpoint = endpoint
        self.model = endpoint.model
        self.client = openai.OpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=max_retries, timeout=timeout
        )
        self.cache = cache
        self.cache_dir = Path(cache_dir) if cache_dir else cookbook_dir() / "llm_cache"
        self.prices = prices
        self.length_retries = length_retries
        self._lock = threading.Lock()
        self.calls = 0  # requests made
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.reasoning_tokens = 0
        self.cached_tokens = 0
        self.cost_usd = 0.0  # of the calls whose model has a price

    def request(
        self,
        messages: list[dict],
        response_format: dict | None = None,
        max_tokens: int | None = None,
        reasoning_effort: str | None = None,
    ) -> dict:
        """The chat completions request body for these messages, as this model accepts it."""
        request: dict = {"model": self.model, "messages": messages}
        if response_format:
            request["response_format"] = response_format
        if max_tokens:
            request["max_completion_tokens"] = max_tokens  # never `max_tokens`: reasoning models reject it
        effort = reasoning_effort or self.endpoint.reasoning_effort
        if effort and is_reasoning(self.model):
            request["reasoning_effort"] = effort
        return request

    def chat(
        self,
        messages: list[dict],
        response_format: dict | None = None,
        max_tokens: int | None = None,
        use_cache: bool = True,
        cache_if: Callable[[LLMReply], bool] | None = None,
        reasoning_effort: str | None = None,
    ) -> LLMReply:
        """One chat completion (not streamed), `max_tokens` being the answer budget (reasoning included).
        Raises the openai client's errors after its retries. A reply is cached only when it is not cut and
        `cache_if(reply)` (default: always), so a bad reply is never served again. No provider key is ever
        sent on in `messages` (`cookbook.credentials.scrub`)."""
        request = self.request(scrubbed(messages), response_format, max_tokens, reasoning_effort)
        key = hashlib.sha256(json.dumps([self.endpoint.base_url, request], sort_keys=True).encode()).hexdigest()
        cache_file = self.cache_dir / key[:2] / f"{key}.json"
        if self.cache and use_cache and cache_file.exists():
            stored = json.loads(cache_file.read_text())
            known = {f.name for f in fields(LLMReply)}
            cached = LLMReply(**{**{k: v for k, v in stored.items() if k in known}, "cached": True})
            if not cached.cut:  # a cut reply cached by an older version is asked again
                return cached
        reply = self._ask(request)
        with self._lock:
            self.calls += reply.attempts
            self.prompt_tokens += reply.prompt_tokens
            self.completion_tokens += reply.completion_tokens
            self.reasoning_tokens += reply.reasoning_tokens
            self.cached_tokens += reply.cached_tokens
            self.cost_usd += reply.cost_usd or 0.0
        if self.cache and not reply.cut and (cache_if is None or cache_if(reply)):
            atomic_write_text(cache_file, json.dumps(asdict(reply)))
        return reply

    def _ask(self, request: dict) -> LLMReply:
        """Send `request`; while the reply is cut and there is room to grow, send it again with twice the
        answer budget. The reply is the last one, with the usage of all of them."""
        start = time.monotonic()
        total, attempts = Usage(), 0
        while True:
            completion = self._create(request)
            attempts += 1
            usage = usage_from(completion.usage.model_dump() if completion.usage else None)
            total += usage
            message = completion.choices[0].message
            text, refusal = message.content or "", getattr(message, "refusal", None) or ""
            finish = completion.choices[0].finish_reason or ""
            room = self._more_room(request.get("max_completion_tokens"), usage.prompt_tokens)
            if not is_cut(finish, text, refusal) or attempts > self.length_retries or room is None:
                break
            request = {**request, "max_completion_tokens": room}
        return LLMReply(
            text=text,
            finish_reason=finish,
            prompt_tokens=total.prompt_tokens,
            completion_tokens=total.completion_tokens,
            cost_usd=cost_usd(self.model, total, self.prices),
            duration_s=round(time.monotonic() - start, 3),
            reasoning_tokens=total.reasoning_tokens,
            cached_tokens=total.cached_tokens,
            attempts=attempts,
            refusal=refusal,
        )

    def _more_room(self, budget: int | None, prompt_tokens: int) -> int | None:
        """Twice `budget`, within the model's output limit and what its window leaves after the prompt;
        None when there is no budget to grow (none was set, or it is at the limit)."""
        if not budget:
            return None
        known = limits(self.model)
        room = budget * 2
        if known:
            room = min(room, known.max_output, known.window - prompt_tokens)
        return room if room > budget else None

    def _create(self, request: dict):
        """The completion, or EndpointError for what retrying cannot fix (a wrong key or model, no endpoint,
        a body that is not a completion); the openai client has already retried 429s and 5xx."""
        import openai

        where = f"the model endpoint {self.endpoint.base_url} (model {self.model})"
        try:
            completion = self.client.chat.completions.create(**request)
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
            raise EndpointError(classify(e.status_code, e.response.content, where).message) from None
        except openai.APIConnectionError as e:
            raise EndpointError(f"{where} is not reachable ({e}); check the base URL and that it is up") from None
        except openai.APIResponseValidationError:
            raise EndpointError(f"{where} answered with a body that is not a chat completion") from None
        if not getattr(completion, "choices", None):
            raise EndpointError(f"{where} answered with a body that is not JSON (or holds no choices)")
        return completion


class EndpointError(CookbookError):
    """A model endpoint fails in a way retrying will not fix; the message names it and the fix."""
