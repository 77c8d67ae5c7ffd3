"""The recording gateway: every agent talks to its model through here.

A small HTTP pass-through on 127.0.0.1. Each agent run gets its own base URL,
`http://127.0.0.1:PORT/runs/<token>/v1`, with a token of its own that nobody can guess; a request to
`.../runs/<token>/v1/<path>` is forwarded to `<upstream>/<path>` with the real API key (the agent never
holds it) in the upstream's own header only —
`Authorization: Bearer` for an "openai" endpoint, `x-api-key` (with the agent's `anthropic-version`) for an
"anthropic" one — and the reply is streamed back unchanged. On the way, each request and the reply's usage
are appended to the run's transcript (JSONL; each request stored as what is new since an earlier one, so it
grows linearly: `cookbook.llm.transcripts` rebuilds it), so the row of a run can say how many LLM calls it
made, their tokens (cached and reasoning ones too), and whether the ruleset was in the system prompt the
model received — the only proof that the rules were applied.

It serves only what an agent's role needs: the model API of its endpoint's kind — `POST /chat/completions`
and `/responses` ("openai"), `POST /messages` ("anthropic"), `GET /models[/<id>]` — for a run it knows.
Anything else (another path, one that escapes `/v1`, another method, a made-up token) is refused with 403
and counted, and the upstream receives nothing. A GET is a request of its run like a POST: checked, capped
and recorded.

The gateway is also where limits are enforced: `max_requests` per run (an agent that loops forever
gets HTTP 400 with a message, and its run ends), and a global rate limit (requests and tokens per
minute, shared by every run) that makes requests wait rather than fail. A provider's 429 is waited out
here (its `retry-after-ms` / `retry-after`, else backoff; `retries_429` times at most) and never counts
toward `max_requests`: only requests the model answered do. `insufficient_quota` is passed on at once.

What an upstream failure means is read once (`cookbook.llm.upstream.classify`): a wrong key, an unknown model
or a malformed request (a 400) stops the run as the infrastructure's error; a 400 that says the request is
over the model's window, in any provider's words, is passed on and noted: the agent may shorten its
conversation, and if its run ends there, that is its own end ("context overflow"), never the endpoint's.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx

from cookbook.llm.http_service import BackgroundHTTPService, send_json
from cookbook.llm.messages import system_prompt
from cookbook.llm.rate_limit import RateLimiter
from cookbook.llm.replies import ReplyReader
from cookbook.llm.transcripts import TranscriptWriter
from cookbook.llm.upstream import (
    OVERFLOW,
    TRANSIENT_IN_A_ROW,
    UpstreamError,
    auth_headers,
    classify,
    retry_wait,
    unreachable,
)
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


# What an agent's role may ask of its model endpoint, by the endpoint's API kind: exact paths after /v1.
MODEL_CALLS = {"openai": ("/chat/completions", "/responses"), "anthropic": ("/messages",)}
MODEL_LIST = re.compile(r"^/models(/[A-Za-z0-9._:@-]+)?$")  # GET: the models, or one of them
ROUTE = re.compile(r"^/runs/([A-Za-z0-9_-]+)/v1(/[^?#]*)(\?[^#]*)?$")
MAX_NOTED = 100  # requests noted per run (GETs, refusals); all of them are counted


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
    forbidden: int = 0  # requests refused with 403: not the model API of the run's role
    side_requests: int = 0  # GETs (the model list): capped with the model calls
    noted: list[str] = field(default_factory=list)  # "GET /models 200", "403 POST /files" … (the first ones)
    upstream_error: UpstreamError | None = None  # the last failure of the upstream, until a success
    overflow: UpstreamError | None = None  # the last answer said the conversation is over the window (the agent's)
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
        self.runs: dict[str, RunStats] = {}  # by token
        self._tokens: dict[str, str] = {}  # run key → token
        self.forbidden = 0  # 403s of every run, and of requests naming no run
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
        """Open a run (`run_key` names it for `finish`); return its base URL, with a fresh unguessable
        token, for the agent's provider configuration. `on_fatal` is called when the upstream fails in a
        way the agent's retries cannot fix (the run should stop)."""
        transcript_path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.runs[token] = RunStats(transcript_path, ruleset, max_requests, on_fatal=on_fatal)
            self._tokens[run_key] = token
        return f"http://127.0.0.1:{self.port}/runs/{token}/v1"

    def stats(self, run_key: str) -> RunStats:
        """The open run's statistics so far."""
        with self._lock:
            return self.runs[self._tokens[run_key]]

    def finish(self, run_key: str) -> RunStats:
        with self._lock:
            return self.runs.pop(self._tokens.pop(run_key))

    def allowed(self, method: str, path: str) -> bool:
        """Whether `method path` (after /v1, without the query) is the model API of this gateway's kind."""
        if method == "POST":
            return path in MODEL_CALLS.get(self.api, ())
        return method == "GET" and bool(MODEL_LIST.match(path))

    def _forbid(self, stats: RunStats | None, what: str) -> None:
        with self._lock:
            self.forbidden += 1
            if stats is not None:
                stats.forbidden += 1
                _note(stats, f"403 {what}")

    def _admit(self, stats: RunStats, body: dict | None) -> bool:
        """Count a request of the run against its cap; `body` None for a GET (not a model call)."""
        with self._lock:
            if stats.max_requests is not None and stats.llm_calls + stats.side_requests >= stats.max_requests:
                stats.refused += 1
                return False
            if body is None:
                stats.side_requests += 1
                return True
            stats.llm_calls += 1
            if stats.ruleset.strip():
                stats.rules_seen.append(normalize_space(stats.ruleset) in normalize_space(system_prompt(body)))
            return True

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
            if failure is not None and failure.kind == OVERFLOW:  # not the endpoint's failure: the agent may
                stats.overflow, failure = failure, None  # shorten its conversation; if it ends, it is its end
            elif entry.get("status", 0) < 400:
                stats.overflow = None
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


def _note(stats: RunStats, what: str) -> None:
    """Keep the first requests of a run that were not model calls (the gateway's lock held)."""
    if len(stats.noted) < MAX_NOTED:
        stats.noted.append(what)


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def gateway(self):
        return self.server.owner

    def log_message(self, *args) -> None:
        pass

    def _route(self, method: str) -> tuple[RunStats, str] | None:
        """(the run, the upstream path with its query) of a request its role may make; else None, after
        answering 403 (and counting it). The upstream never sees a refused request."""
        match = ROUTE.match(self.path)
        stats = self.gateway.runs.get(match.group(1)) if match else None
        if stats is not None and self.gateway.allowed(method, match.group(2)):
            return stats, match.group(2) + (match.group(3) or "")
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # read, so that the client gets the 403
        self.gateway._forbid(stats, f"{method} {match.group(2) if stats else ''}")
        self._error(403, "the gateway serves only the model API of this run's endpoint")
        return None

    def do_GET(self) -> None:
        route = self._route("GET")
        if not route:
            return
        stats, path = route
        if not self.gateway._admit(stats, None):
            return self._error(400, f"request cap of {stats.max_requests} LLM calls for this run reached")
        try:
            reply = self.gateway._client.get(self.gateway.upstream + path, headers=self._headers())
        except httpx.HTTPError as e:
            return self._error(502, f"upstream unreachable: {e}")
        with self.gateway._lock:
            _note(stats, f"GET {path} {reply.status_code}")
        self._send(reply.status_code, reply.headers, reply.content)

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_OPTIONS(self) -> None:
        self._route("OPTIONS")

    def do_POST(self) -> None:
        route = self._route("POST")
        if not route:
            return
        stats, path = route
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if not self.gateway._admit(stats, body):
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
        reader = ReplyReader()
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
