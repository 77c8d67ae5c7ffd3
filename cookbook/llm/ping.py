"""One tiny request to a model endpoint: does it answer, with this key, for this model? (the preflight's)"""

from __future__ import annotations

import time

import httpx

from cookbook.llm.upstream import UpstreamError, auth_headers, classify, retry_wait, unreachable
from cookbook.seams import Endpoint

PING = [{"role": "user", "content": "Say OK."}]  # the preflight's request, all of it


def ping(endpoint: Endpoint, role: str, timeout: float = 20.0) -> UpstreamError | None:
    """Send `endpoint.model` a request for a few tokens; None when it answers, else what is wrong (a
    transient 429/5xx is tried once more first). Reasoning models may spend the few tokens thinking and
    answer with empty text: any well-formed 200 counts as an answer."""
    where = f"the {role}'s endpoint {endpoint.base_url} (model {endpoint.model})"
    headers = auth_headers(endpoint.api, endpoint.api_key)
    if endpoint.api == "anthropic":
        url = f"{endpoint.base_url.rstrip('/')}/messages"
        body = {"model": endpoint.model, "max_tokens": 16, "messages": PING}
    else:
        url = f"{endpoint.base_url.rstrip('/')}/chat/completions"
        body = {"model": endpoint.model, "max_completion_tokens": 16, "messages": PING}
    for attempt in range(2):
        try:
            reply = httpx.post(url, json=body, headers=headers, timeout=httpx.Timeout(timeout, connect=5))
        except httpx.HTTPError as e:
            return unreachable(e, where)
        failure = classify(reply.status_code, reply.content, where, json_body=_is_json(reply))
        if failure is None or failure.fatal or attempt:
            return failure
        time.sleep(min(10.0, retry_wait(reply.headers, attempt=1)))  # 2 s when the reply does not say
    return None


def _is_json(reply: httpx.Response) -> bool:
    try:
        reply.json()
    except ValueError:
        return False
    return True
