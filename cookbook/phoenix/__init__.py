"""What `phoenix_experiments` stands on: the pieces of a run that Phoenix shows, built from the records
the cookbook already keeps (result rows, the gateway's transcripts, ruleset files).

    otlp.py      spans with the ids and times we choose, sent to Phoenix's /v1/traces (OTLP over HTTP)
    traces.py    one agent run as a trace: its LLM calls from the transcript, the judge's call beside them
    scores.py    a split's accuracy over scored rows with its Wilson interval, error count, tokens, cost
    prompts.py   a run's rulesets as versions of one Phoenix Prompt, with scores and selection verdict
    runs.py      an experiment's runs, evaluations and traces, logged once each

Phoenix's REST API (`/v1/...`) is used directly where the `phoenix.client` package has no call for
what we need (prompt-version metadata, version lists, experiment descriptions).
"""

from __future__ import annotations

import httpx

from cookbook.credentials import scrub_bytes


class _Scrubbing(httpx.HTTPTransport):
    """Sends every request body without provider keys (masks of the same length keep any format valid,
    protobuf included): nothing the project logs to Phoenix carries a key."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        clean = scrub_bytes(body)
        if clean != body:
            request = httpx.Request(request.method, request.url, headers=request.headers, content=clean)
        return super().handle_request(request)


def rest(url: str, api_key: str | None = None, timeout: float | httpx.Timeout = 60) -> httpx.Client:
    """An HTTP client for Phoenix's REST API at `url` (with its API key, if any); what it sends is scrubbed."""
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.Client(base_url=url.rstrip("/") + "/", headers=headers, timeout=timeout, transport=_Scrubbing())
