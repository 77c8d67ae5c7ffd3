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


def rest(url: str, api_key: str | None = None, timeout: float = 60) -> httpx.Client:
    """An HTTP client for Phoenix's REST API at `url` (with its API key, if any)."""
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.Client(base_url=url.rstrip("/") + "/", headers=headers, timeout=timeout)
