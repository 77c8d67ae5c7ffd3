"""Talking to a model endpoint: its auth header, what its failures mean (whose fault, and whether retrying
can fix them), and how long a 429 asks to wait.

One reading of OpenAI's and Anthropic's replies, shared by the gateway (an agent's run that meets a fatal
failure is stopped and recorded as an infrastructure error, never as the agent's failure), the preflight's
ping (which names the fix before any money is spent) and the judge's and optimizer's client.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass

TRANSIENT_IN_A_ROW = 3  # transient failures in a row that end a run as the provider's error
# A 400 that says the request is over the model's window, in each provider's words: OpenAI's code (and its
# newer "exceeds the context window"), vLLM's "maximum context length" (no code), Anthropic's "prompt is too
# long" and "exceed context limit" (the prompt with max_tokens).
OVERFLOW_WORDS = ("context_length_exceeded", "maximum context length", "context window", "prompt is too long")
OVERFLOW_WORDS += ("exceed context limit",)
OVERFLOW = "overflow"  # not an ERROR_KINDS key: a conversation that outgrew the window is the agent's own end
ANTHROPIC_VERSION = "2023-06-01"  # sent when a caller speaking the Messages API did not say


def auth_headers(api: str, key: str) -> dict[str, str]:
    """The one auth header of an endpoint of this API kind: `x-api-key` (with an `anthropic-version`) for
    "anthropic", `Authorization: Bearer` for "openai"."""
    if api == "anthropic":
        return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}
    return {"Authorization": f"Bearer {key}"}


def retry_wait(headers, attempt: int) -> float:
    """Seconds to wait before sending a rate-limited request again: OpenAI's `retry-after-ms`, else
    `retry-after` (seconds or an HTTP date), else exponential backoff from one second."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        after = headers.get("retry-after")
        if after:
            try:
                return max(0.0, float(after))
            except ValueError:
                return max(0.0, email.utils.parsedate_to_datetime(after).timestamp() - time.time())
    except (TypeError, ValueError):
        pass
    return min(2.0**attempt, 30.0)


@dataclass(frozen=True)
class UpstreamError:
    kind: str  # an ERROR_KINDS key (endpoint, provider, model, auth), or OVERFLOW: not the infrastructure's
    fatal: bool  # retrying will not fix it: stop now
    message: str


def error_detail(body: bytes | str) -> tuple[str, str]:
    """(code or type, message) from an OpenAI or Anthropic error body; ("", text) when it is not one."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        return "", text.strip()[:300]
    if isinstance(error, dict):
        return str(error.get("code") or error.get("type") or ""), str(error.get("message") or "")[:300]
    return "", str(error or text)[:300]


def classify(
    status: int, body: bytes | str = b"", where: str = "the model endpoint", json_body: bool = True
) -> UpstreamError | None:
    """The meaning of an HTTP status (and error body) from a model endpoint; None when it is not a failure
    (2xx). A 400 that says the request is over the model's window (`OVERFLOW_WORDS`) is kind OVERFLOW: the
    agent's conversation outgrew the window, the agent's own end, not the endpoint's failure; any other 400
    is a malformed request: the endpoint's. A 2xx whose body is not JSON (`json_body` False) is the
    endpoint's failure too."""
    code, message = error_detail(body) if status >= 400 else ("", "")
    code = "" if code == str(status) else code  # vLLM's code is the status again
    said = f"{status} {code}".strip() + (f": {message}" if message else "")
    if status < 400:
        return None if json_body else UpstreamError("endpoint", True, f"{where} answered with a body that is not JSON")
    if status in (401, 403):
        return UpstreamError("auth", True, f"{where} refused the key ({said}); check the API key")
    if status == 404:
        return UpstreamError("model", True, f"{where} does not serve the model ({said}); check the model name")
    if status == 429 and code == "insufficient_quota":
        return UpstreamError("auth", True, f"{where} says the account has no quota left ({said})")
    if status == 429 or status >= 500:
        return UpstreamError("provider", False, f"{where} failed ({said})")
    if status == 400 and any(words in f"{code} {message}".lower() for words in OVERFLOW_WORDS):
        message = f"context overflow: the conversation outgrew the window of {where} ({said})"
        return UpstreamError(OVERFLOW, False, message)
    return UpstreamError("endpoint", True, f"{where} rejected the request ({said})")


def unreachable(error: Exception, where: str = "the model endpoint") -> UpstreamError:
    """A transport failure: a refused connection is fatal (nothing listens there); a timeout may pass."""
    import httpx

    refused = isinstance(error, httpx.ConnectError)
    return UpstreamError("endpoint", refused, f"{where} is not reachable ({type(error).__name__}: {error})")
