"""The LLM client of the judge and the optimizer: one Endpoint, retries, a disk cache and token accounting.

Transport retries (429, 5xx, connection errors) with exponential backoff are the `openai` client's own
(`max_retries`). A reply is cached on disk by the hash of everything that shapes it (endpoint, model,
messages, response format, output limit), so a re-run costs nothing; `cache=False` turns it off.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from cookbook.files import atomic_write_text
from cookbook.llm.prices import price
from cookbook.paths import cookbook_dir
from cookbook.seams import CookbookError, Endpoint


@dataclass
class LLMReply:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    duration_s: float
    cached: bool = False


class LLMClient:
    """A chat client for one model at one endpoint."""

    def __init__(
        self,
        endpoint: Endpoint,
        max_retries: int = 5,
        timeout: float = 600,
        cache: bool = True,
        cache_dir: Path | str | None = None,
        prices: dict[str, tuple[float, float]] | None = None,
    ):
        import openai

        self.endpoint = endpoint
        self.model = endpoint.model
        self.client = openai.OpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=max_retries, timeout=timeout
        )
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
        key = hashlib.sha256(json.dumps([self.endpoint.base_url, request], sort_keys=True).encode()).hexdigest()
        cache_file = self.cache_dir / key[:2] / f"{key}.json"
        if self.cache and use_cache and cache_file.exists():
            return LLMReply(**{**json.loads(cache_file.read_text()), "cached": True})
        start = time.monotonic()
        completion = self._create(request)
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

    def _create(self, request: dict):
        """The completion, or EndpointError for what retrying cannot fix (a wrong key or model, no endpoint,
        a body that is not a completion); the openai client has already retried 429s and 5xx."""
        import openai

        where = f"the model endpoint {self.endpoint.base_url} (model {self.model})"
        try:
            completion = self.client.chat.completions.create(**request)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise EndpointError(f"{where} refused the key ({e.status_code}); check the API key") from None
        except openai.NotFoundError as e:
            raise EndpointError(f"{where} does not serve the model ({e.status_code}); check the model name") from None
        except openai.APIConnectionError as e:
            raise EndpointError(f"{where} is not reachable ({e}); check the base URL and that it is up") from None
        except openai.APIResponseValidationError:
            raise EndpointError(f"{where} answered with a body that is not a chat completion") from None
        if not getattr(completion, "choices", None):
            raise EndpointError(f"{where} answered with a body that is not JSON (or holds no choices)")
        return completion


class EndpointError(CookbookError):
    """A model endpoint fails in a way retrying will not fix; the message names it and the fix."""
