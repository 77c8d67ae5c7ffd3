"""The recording gateway: every agent talks to its model through here.

A small HTTP pass-through on 127.0.0.1. Each agent run gets its own base URL,
`http://127.0.0.1:PORT/runs/<run_key>/v1`; a request to `.../runs/<run_key>/v1/<path>` is forwarded to
`<upstream>/<path>` with the real API key (the agent never holds it) in the upstream's own header only —
`Authorization: Bearer` for an "openai" endpoint, `x-api-key` (with the agent's `anthropic-version`) for an
"anthropic" one — and the reply is streamed back unchanged. On the way, each request and the reply's usage
are appended to the run's transcript (JSONL; each request stored as what is new since an earlier one, so it
grows linearly: `cookbook.llm.transcripts` rebuilds it), so the row of a run can say how many LLM calls it
made, their tokens (cached and reasoning ones too), and whether the ruleset was in the system prompt the
model received — the only proof that the rules were applied.

The gateway is also where limits are enforced: `max_requests` per run (an agent that loops forever
gets HTTP 400 with a message, and its run ends), and a global rate limit (requests and tokens per
minute, shared by every run) that makes requests wait rather than fail. A provider's 429 is waited out
here (its `retry-after-ms` / `retry-after`, else backoff; `retries_429` times at most) and never counts
toward `max_requests`: only requests the model answered do. `insufficient_quota` is passed on at once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx

from cookbook.llm.http_service import BackgroundHTTPService, send_json
from cookbook.llm.messages import system_prompt
from cookbook.llm.transcripts import TranscriptWriter
from cookbook.llm.upstream import TRANSIENT_IN_A_ROW, UpstreamError, auth_headers, classify, retry_wait, unreachable
from cookbook.llm.usage import usage_from
from cookbook.seams import Endpoint

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "authorization",
    "x-api-key",
    "accept-encoding",
}


def normalize_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class RunStats:
    """What the gateway saw of one run."""

    transcript_path: Path
    ruleset: str = ""
    max_requests: int | None = None
    llm_calls: int = 0  # requests admitted, less those the provider rate-limited (429) in the end
    prompt_tokens: int = 0  # every input token, cached ones included
    completion_tokens: int = 0  # every output token, reasoning included
    cached_tokens: int = 0  # input tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # input tokens written to the prompt cache (Anthropic)
    reasoning_tokens: int = 0
    rules_seen: list[bool] = field(default_factory=list)  # per request: the ruleset in the system prompt
    refused: int = 0  # requests refused by the cap
    upstream_error: UpstreamError | None = None  # the last failure of the upstream, until a success
    fatal: UpstreamError | None = None  # a failure retrying cannot fix (or too many in a row): the run stops
    transient_in_a_row: int = 0
    on_fatal: Callable[[], None] | None = None  # called once, when `fatal` is set
    rate_limited: int = 0  # provider 429s waited out by the gateway or passed on (none counts toward the cap)
    writer: TranscriptWriter | None = field(default=None, repr=False)  # appends to transcript_path

    def __post_init__(self) -> None:
        self.writer = self.writer or TranscriptWriter(self.transcript_path)

    @property
    def rules_applied(self) -> bool | None:
        """True when every request's system prompt held the ruleset; None for an empty ruleset."""
        if not self.ruleset.strip():
            return None
        return bool(self.rules_seen) and all(self.rules_seen)


class RateLimiter:
    """At most `requests` requests and `tokens` tokens in any window of `period_s` seconds, shared by all
    the runs of a gateway (so 50+ parallel agents stay under the provider's limits): a request that does
    not fit waits. Tokens are the request's estimate (its size / 4) at admission."""

    def __init__(self, requests: int | None = None, tokens: int | None = None, period_s: float = 60.0):
        self.requests, self.tokens, self.period_s = requests, tokens, period_s
        self._sent: list[tuple[float, int]] = []
        self._cond = threading.Condition()

    def acquire(self, tokens: int) -> float:
        """Wait until the request fits; return the seconds waited."""
        start = time.monotonic()
        with self._cond:
            while True:
                now = time.monotonic()
                self._sent = [(t, n) for t, n in self._sent if t > now - self.period_s]
                fits_requests = self.requests is None or len(self._sent) < self.requests
                fits_tokens = (
                    self.tokens is None or not self._sent or sum(n for _, n in self._sent) + tokens <= self.tokens
                )
                if fits_requests and fits_tokens:
                    self._sent.append((now, tokens))
                    return now - start
                self._cond.wait(timeout=max(0.01, self._sent[0][0] + self.period_s - now))


class Gateway(BackgroundHTTPService):
    """The gateway server in front of `upstream`, the agent's real endpoint (its base URL ends in /v1);
    `rate_limiter`, if given, bounds the requests and tokens per minute of all runs together."""

    def __init__(
        self,
        upstream: Endpoint,
        timeout: float = 600,
        rate_limiter: RateLimiter | None = None,
        retries_429: int = 5,
        max_retry_wait_s: float = 60.0,
    ):
        self.upstream = upstream.base_url.rstrip("/")
        self.api_key = upstream.api_key
        self.api = upstream.api
        self.rate_limiter = rate_limiter
        self.retries_429, self.max_retry_wait_s = retries_429, max_retry_wait_s
        self.runs: dict[str, RunStats] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=30))

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        return _GatewayHandler

    def stop(self) -> None:
        super().stop()
        self._client.close()

    def register(
        self,
        run_key: str,
        transcript_path: Path,
        ruleset: str = "",
        max_requests: int | None = None,
        on_fatal: Callable[[], None] | None = None,
    ) -> str:
        """Open a run; return its base URL (for the agent's provider configuration). `on_fatal` is called
        when the upstream fails in a way the agent's retries cannot fix (the run should stop)."""
        transcript_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self.runs[run_key] = RunStats(transcript_path, ruleset, max_requests, on_fatal=on_fatal)
        return f"http://127.0.0.1:{self.port}/runs/{run_key}/v1"

    def finish(self, run_key: str) -> RunStats:
        with self._lock:
            return self.runs.pop(run_key)

    def _admit(self, run_key: str, body: dict) -> tuple[RunStats | None, bool]:
        with self._lock:
            stats = self.runs.get(run_key)
            if stats is None:
                return None, False
            if stats.max_requests is not None and stats.llm_calls >= stats.max_requests:
                stats.refused += 1
                return stats, False
            stats.llm_calls += 1
            if stats.ruleset.strip():
                stats.rules_seen.append(normalize_space(stats.ruleset) in normalize_space(system_prompt(body)))
            return stats, True

    def _record(self, stats: RunStats, entry: dict, failure: UpstreamError | None = None) -> None:
        with self._lock:
            usage = usage_from(entry.get("usage"))
            stats.prompt_tokens += usage.prompt_tokens
            stats.completion_tokens += usage.completion_tokens
            stats.cached_tokens += usage.cached_tokens
            stats.cache_write_tokens += usage.cache_write_tokens
            stats.reasoning_tokens += usage.reasoning_tokens
            if entry.get("status") == 429:  # the model never answered it: not a call toward the cap
                stats.llm_calls -= 1
            stats.rate_limited += entry.get("retries_429", 0) + (entry.get("status") == 429)
            stats.writer.append(entry)
            stats.upstream_error = failure
            stats.transient_in_a_row = stats.transient_in_a_row + 1 if failure and not failure.fatal else 0
            too_many = stats.transient_in_a_row >= TRANSIENT_IN_A_ROW
            if failure and stats.fatal is None and (failure.fatal or too_many):
                stats.fatal = failure
                if stats.on_fatal:
                    stats.on_fatal()

    def send_upstream(self, path: str, headers: dict, raw: bytes, entry: dict) -> httpx.Response:
        """POST to the upstream; a 429 is waited out and sent again (`retries_429` times at most, each wait
        at most `max_retry_wait_s`), except `insufficient_quota`, which waiting does not fix. The waits are
        noted in `entry`. Raises httpx.HTTPError when the upstream cannot be reached."""
        for attempt in range(self.retries_429 + 1):
            request = self._client.build_request("POST", self.upstream + path, headers=headers, content=raw)
            reply = self._client.send(request, stream=True)
            if reply.status_code != 429 or attempt == self.retries_429:
                return reply
            reply.read()  # kept: iter_bytes() replays it if this 429 is passed on
            wait = retry_wait(reply.headers, attempt)
            if wait > self.max_retry_wait_s or b"insufficient_quota" in reply.content:
                return reply
            reply.close()
            entry["retries_429"] = attempt + 1
            entry["retry_wait_s"] = round(entry.get("retry_wait_s", 0.0) + wait, 3)
            time.sleep(wait)
        return reply


class _StreamReader:
    """Collects usage, text and tool calls from an SSE stream while it passes through."""

    def __init__(self) -> None:
        self.buffer = b""
        self.usage: dict = {}
        self.text: list[str] = []
        self.tool_calls: dict[int, dict] = {}

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            line = line.strip()
            if not line.startswith(b"data:") or line == b"data: [DONE]":
                continue
            try:
                event = json.loads(line[5:])
            except ValueError:
                continue
            self.take(event)

    def take(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "message_start":  # Anthropic: input tokens first, output tokens at the end
            self.usage = {**self.usage, **event.get("message", {}).get("usage", {})}
        elif kind == "message_delta":
            self.usage = {**self.usage, **(event.get("usage") or {})}
        elif event.get("usage"):
            self.usage = event["usage"]
        if kind == "content_block_delta" and event.get("delta", {}).get("type") == "text_delta":
            self.text.append(event["delta"]["text"])
        # Anthropic's tool calls: a tool_use block, then its input as JSON fragments
        if kind == "content_block_start" and event.get("content_block", {}).get("type") == "tool_use":
            self.tool_calls[event.get("index", 0)] = {"name": event["content_block"].get("name", ""), "arguments": ""}
        if kind == "content_block_delta" and event.get("delta", {}).get("type") == "input_json_delta":
            self.tool_calls.get(event.get("index"), {"arguments": ""})["arguments"] += event["delta"]["partial_json"]
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or choice.get("message") or {}
            if delta.get("content"):
                self.text.append(delta["content"])
            for call in delta.get("tool_calls") or []:
                slot = self.tool_calls.setdefault(
                    call.get("index", len(self.tool_calls)), {"name": "", "arguments": ""}
                )
                function = call.get("function") or {}
                slot["name"] += function.get("name") or ""
                slot["arguments"] += function.get("arguments") or ""


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def gateway(self):
        return self.server.owner

    def log_message(self, *args) -> None:
        pass

    def _route(self) -> tuple[str, str] | None:
        match = re.match(r"^/runs/([^/]+)/v1(/.*)$", self.path)
        return (match.group(1), match.group(2)) if match else None

    def do_GET(self) -> None:
        route = self._route()
        if not route:
            return self._error(404, f"no route {self.path}")
        reply = self.gateway._client.get(self.gateway.upstream + route[1], headers=self._headers())
        self._send(reply.status_code, reply.headers, reply.content)

    def do_POST(self) -> None:
        route = self._route()
        if not route:
            return self._error(404, f"no route {self.path}")
        run_key, path = route
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        stats, admitted = self.gateway._admit(run_key, body)
        if stats is None:
            return self._error(404, f"unknown run {run_key}")
        if not admitted:
            # 400, not 429: a rate-limit status makes agents back off and retry for minutes
            return self._error(400, f"request cap of {stats.max_requests} LLM calls for this run reached")
        waited = self.gateway.rate_limiter.acquire(len(raw) // 4) if self.gateway.rate_limiter else 0.0
        started = time.time()
        entry = {"time": started, "path": path, "request": body, "rate_limit_wait_s": round(waited, 3)}
        try:
            reply = self.gateway.send_upstream(path, self._headers(), raw, entry)
        except httpx.HTTPError as e:
            entry.update(status=502, error=str(e), duration_s=round(time.time() - started, 3))
            self.gateway._record(stats, entry, unreachable(e, self._where(body)))
            return self._error(502, f"upstream unreachable: {e}")
        reader = _StreamReader()
        try:
            self.send_response(reply.status_code)
            for name, value in reply.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
                    self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            streaming = "text/event-stream" in reply.headers.get("content-type", "")
            content = b""
            for chunk in reply.iter_bytes():
                self.wfile.write(chunk)
                self.wfile.flush()
                if streaming:
                    reader.feed(chunk)
                else:
                    content += chunk
            if not streaming:
                try:
                    reader.take(json.loads(content))
                except ValueError:
                    entry["reply_body"] = content[:2000].decode(errors="replace")
                if reply.status_code >= 400:
                    entry["error_body"] = content[:2000].decode(errors="replace")
        except (BrokenPipeError, ConnectionResetError):
            entry["client_gone"] = True
        finally:
            reply.close()
            self.close_connection = True
            entry.update(
                status=reply.status_code,
                usage=reader.usage,
                reply_text="".join(reader.text),
                tool_calls=list(reader.tool_calls.values()),
                duration_s=round(time.time() - started, 3),
            )
            json_body = "reply_body" not in entry  # a body that is not JSON was kept as text
            failure = classify(reply.status_code, entry.get("error_body", ""), self._where(body), json_body)
            self.gateway._record(stats, entry, failure)

    def _where(self, body: dict) -> str:
        return f"the agent's endpoint {self.gateway.upstream} (model {body.get('model', '?')})"

    def _headers(self) -> dict:
        """The agent's headers, its own auth replaced by the upstream's: one header, of the upstream's kind."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        sent = {k.lower() for k in headers}  # its auth headers are hop-by-hop: gone; its anthropic-version wins
        upstream = auth_headers(self.gateway.api, self.gateway.api_key)
        return headers | {k: v for k, v in upstream.items() if k.lower() not in sent}

    def _send(self, status: int, headers, content: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def _error(self, status: int, message: str) -> None:
        send_json(self, status, {"error": {"message": message, "type": "gateway"}})
