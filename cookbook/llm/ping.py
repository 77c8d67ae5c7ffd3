"""One tiny request to a model endpoint: does it answer, with this key, for this model? (the preflight's)"""

from __future__ import annotations

import time

import httpx

from cookbook.llm.upstream_errors import UpstreamError, classify, unreachable
from cookbook.seams import Endpoint

ANTHROPIC_VERSION = "2023-06-01"
PING = [{"role": "user", "content": "Say OK."}]  # the preflight's request, all of it


def is_ping(request: dict) -> bool:
    """Whether a request body is the preflight's."""
    return request.get("messages") == PING


def ping(endpoint: Endpoint, role: str, timeout: float = 20.0) -> UpstreamError | None:
    """Send `endpoint.model` a request for a few tokens; None when it answers, else what is wrong (a
    transient 429/5xx is tried once more first). Reasoning models may spend the few tokens thinking and
    answer with empty text: any well-formed 200 counts as an answer."""
    where = f"the {role}'s endpoint {endpoint.base_url} (model {endpoint.model})"
    if endpoint.api == "anthropic":
        url = f"{endpoint.base_url.rstrip('/')}/messages"
        headers = {"x-api-key": endpoint.api_key, "anthropic-version": ANTHROPIC_VERSION}
        body = {"model": endpoint.model, "max_tokens": 16, "messages": PING}
    else:
        url = f"{endpoint.base_url.rstrip('/')}/chat/completions"
        headers = {"Authorization": f"Bearer {endpoint.api_key}"}
        body = {
            "model": endpoint.model,
            "max_completion_tokens": 16,
            "messages": PING,
        }
    for attempt in range(2):
        try:
            reply = httpx.post(url, json=body, headers=headers, timeout=httpx.Timeout(timeout, connect=5))
        except httpx.HTTPError as e:
            return unreachable(e, where)
        failure = classify(reply.status_code, reply.content, where)
        if failure is None:
            try:
                reply.json()
            except ValueError:
                return UpstreamError("endpoint", True, f"{where} answered with a body that is not JSON")
            return None
        if failure.fatal or attempt:
            return failure
        time.sleep(_retry_after(reply.headers.get("retry-after")))
    return None


def _retry_after(value: str | None) -> float:
    try:
        return min(10.0, float(value or 2))
    except ValueError:  # an HTTP date
        return 2.0
