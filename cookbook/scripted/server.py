"""A scripted model server on 127.0.0.1, as strict as the real APIs: the only test double of the project.

It answers OpenAI's `POST /v1/chat/completions` (streamed and not, text and tool calls) and `GET
/v1/models[/<id>]`, and Anthropic's `POST /v1/messages` (for Claude Code). A *script* — a function of the request
body — chooses each reply, so a test or the offline demo can make the model behave differently by task,
by turn, or by whether the rules in the system prompt contain a sentence. Every model call is logged (in
memory and, optionally, to a JSONL file) with the names of its auth headers, so tests assert on what a
client really sent; every request line that arrived, whatever it asked for, is in `received`.

It is no kinder than the services it stands for (/work/shared/REAL_APIS.md):
- it serves only the `models` it is given: any other is a 404 `model_not_found` (`not_found_error`);
- a request without its API's auth header (`Authorization: Bearer` / `x-api-key`), or with another key
  than `api_key` when one is set, is a 401; Anthropic's also needs `anthropic-version` and `max_tokens`;
- reasoning models (gpt-5 family, o-series, by name) reject `max_tokens`, a non-default `temperature` or
  `top_p` (400), other models reject `reasoning_effort`; a reply's `reasoning_tokens` count against
  `max_completion_tokens`: when they use it up, the reply is `finish_reason` "length" with empty content;
- a stream carries usage only when the request set `stream_options.include_usage` (one extra chunk with
  empty `choices`), and splits tool-call arguments across chunks; Anthropic streams send `ping`s and
  split a tool call's input into `input_json_delta` fragments;
- a request over its model's window (tiktoken's count of its messages, system prompt and tools; the window
  from the project's table of models, or `windows` for a model the table does not know, as a vLLM
  deployment's `--max-model-len`) is refused in the words of the provider it plays: OpenAI's 400
  `context_length_exceeded`, vLLM's 400 "This model's maximum context length is N tokens" with no code
  (`dialect="vllm"`), Anthropic's 400 "prompt is too long: N tokens > M maximum";
- errors have each API's body (vLLM's: `{"error": {"message", "type": "BadRequestError", "param", "code":
  400}}`); a scripted 429 carries Retry-After (and OpenAI's retry-after-ms).

    with ScriptedLLM(lambda request: Reply(content="hello"), models={"gpt-4.1"}) as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key="x")
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cookbook.llm.http_service import BackgroundHTTPService, send_json
from cookbook.llm.messages import messages_text
from cookbook.llm.models import ModelLimits, is_reasoning, limits
from cookbook.llm.tokens import count_message_tokens, count_tokens
from cookbook.scripted import wire


@dataclass
class ToolCall:
    name: str
    arguments: dict


@dataclass
class Reply:
    """One scripted answer. `status` other than 200 answers with that API's error body instead (its
    message `content`; `error_code` e.g. "insufficient_quota"; `retry_after` seconds as headers)."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int | None = None  # every input token, cached included; default: a rough count of the request
    completion_tokens: int | None = None  # the visible answer; default: a rough count of it (reasoning comes on top)
    reasoning_tokens: int = 0  # hidden reasoning spent before answering (reasoning models only)
    cached_tokens: int = 0  # prompt tokens read from the prompt cache
    cache_write_tokens: int = 0  # prompt tokens written to the prompt cache (Anthropic)
    status: int = 200
    error_code: str = ""
    retry_after: float | None = None
    delay: float | None = None  # seconds before answering; default: the server's latency
    hang: bool = False  # never answer (until the client goes away or the server stops)


Script = Callable[[dict], Reply]
AUTH_HEADERS = ("authorization", "x-api-key")
DIALECTS = ("openai", "vllm")  # how an OpenAI-compatible server words and shapes its errors


def turn(request: dict) -> int:
    """How many assistant messages the conversation already holds (0 on the first request)."""
    return sum(1 for m in request.get("messages", []) if m.get("role") == "assistant")


class ScriptedLLM(BackgroundHTTPService):
    """The server for `models` (the names it serves). `latency` is added before every reply (a slow model,
    for benchmarks); `api_key`, when set, is the only key it accepts. `windows` gives the context window
    in tokens of served models the project's table does not know (else they have none); `dialect` is the
    OpenAI-compatible server it plays: "openai", or "vllm" (its error bodies and words)."""

    def __init__(
        self,
        script: Script,
        *,
        models: Iterable[str],
        latency: float = 0.0,
        log_path: Path | str | None = None,
        api_key: str | None = None,
        windows: dict[str, int] | None = None,
        dialect: str = "openai",
    ):
        self.script = script
        self.models = tuple(sorted(set(models)))
        if not self.models:
            raise ValueError("ScriptedLLM: declare the models it serves (models=...)")
        if dialect not in DIALECTS:
            raise ValueError(f"ScriptedLLM: dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}")
        self.windows, self.dialect = dict(windows or {}), dialect
        self.latency = latency
        self.log_path = Path(log_path) if log_path else None
        self.api_key = api_key
        self.requests: list[dict] = []  # the model calls (POSTs), with their bodies
        self.received: list[str] = []  # every request line ("GET /v1/models"), whatever it asked for
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        return _ScriptedHandler

    def _closing(self) -> None:
        self._stopping.set()  # releases the handlers of hanging replies

    def record(self, path: str, body: dict, auth: list[str]) -> None:
        entry = {"time": time.time(), "path": path, "body": body, "auth": auth}
        with self._lock:
            self.requests.append(entry)
            if self.log_path:
                with open(self.log_path, "a") as log:
                    log.write(json.dumps(entry) + "\n")

    def arrived(self, method: str, path: str) -> None:
        with self._lock:
            self.received.append(f"{method} {path}")

    def chat_requests(self) -> list[dict]:
        with self._lock:
            return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def limits(self, model: str) -> ModelLimits | None:
        """The model's limits: its declared window (`windows`), else the project's table's, else None."""
        if model in self.windows:
            return ModelLimits(self.windows[model], self.windows[model])
        return limits(model)


def _rough_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class RequestRefused(Exception):
    """What the real API would answer instead of a completion: a status, a message, OpenAI's param and code."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def check_openai(body: dict, headers, key: str | None) -> None:
    """Raise RequestRefused where OpenAI's chat completions API would refuse the request."""
    auth = headers.get("Authorization") or ""
    if not auth.startswith("Bearer ") or not auth[7:].strip() or (key and auth[7:] != key):
        raise RequestRefused(401, "Incorrect API key provided (or none: send Authorization: Bearer <key>).")
    model = str(body.get("model") or "")
    if is_reasoning(model):
        if "max_tokens" in body:
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            raise RequestRefused(400, message, "max_tokens", "unsupported_parameter")
        for name in ("temperature", "top_p"):
            if body.get(name) not in (None, 1, 1.0):
                message = (
                    f"Unsupported value: '{name}' does not support {body[name]} with this model. "
                    "Only the default (1) value is supported."
                )
                raise RequestRefused(400, message, name, "unsupported_value")
        if body.get("reasoning_effort") not in (None, "minimal", "low", "medium", "high"):
            message = f"Invalid value: '{body['reasoning_effort']}'."
            raise RequestRefused(400, message, "reasoning_effort", "invalid_value")
    elif "reasoning_effort" in body:
        message = "Unsupported parameter: 'reasoning_effort' is not supported with this model."
        raise RequestRefused(400, message, "reasoning_effort", "unsupported_parameter")
    if body.get("stream_options") and not body.get("stream"):
        message = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        raise RequestRefused(400, message, "stream_options", "invalid_value")


def check_anthropic(body: dict, headers, key: str | None) -> None:
    """Raise RequestRefused where Anthropic's Messages API would refuse the request."""
    given = headers.get("x-api-key") or ""
    if not given.strip() or (key and given != key):
        raise RequestRefused(401, "invalid x-api-key")
    if not headers.get("anthropic-version"):
        raise RequestRefused(400, "anthropic-version: header is required")
    if not isinstance(body.get("max_tokens"), int):
        raise RequestRefused(400, "max_tokens: Field required")


def prompt_tokens(body: dict) -> int:
    """A request's input as its window counts it (tiktoken's count): the messages, the system prompt (apart
    in Anthropic's requests) and the tool definitions."""
    model, messages, system = str(body.get("model") or ""), list(body.get("messages") or []), body.get("system")
    if system:
        messages = [{"role": "system", "content": system if isinstance(system, str) else json.dumps(system)}, *messages]
    tools = count_tokens(json.dumps(body["tools"]), model) if body.get("tools") else 0
    return count_message_tokens(messages, model) + tools


def check_window(body: dict, known: ModelLimits | None, anthropic: bool, dialect: str = "openai") -> None:
    """Raise RequestRefused (400) when a request is over its model's window — alone over the input limit, or
    with its answer budget over the window — in the words of the provider: OpenAI's `context_length_exceeded`,
    vLLM's "maximum context length" with no code, Anthropic's "prompt is too long"."""
    if not known:
        return
    prompt = prompt_tokens(body)
    budget = body.get("max_tokens") if anthropic else body.get("max_completion_tokens") or body.get("max_tokens")
    budget = budget or 0
    if anthropic:
        if prompt > known.window:
            raise RequestRefused(400, f"prompt is too long: {prompt} tokens > {known.window} maximum")
        if prompt + budget > known.window:
            message = (
                f"input length and `max_tokens` exceed context limit: {prompt} + {budget} > {known.window}, "
                "decrease input length or `max_tokens` and try again"
            )
            raise RequestRefused(400, message)
    elif prompt > (known.max_input or known.window) or prompt + budget > known.window:
        message = (
            f"This model's maximum context length is {known.window} tokens. However, you requested "
            f"{prompt + budget} tokens ({prompt} in the messages, {budget} in the completion). Please reduce the "
            "length of the messages or completion."
        )
        code = None if dialect == "vllm" else "context_length_exceeded"
        raise RequestRefused(400, message, None if dialect == "vllm" else "messages", code)


def answer_for(reply: Reply, body: dict, anthropic: bool) -> wire.Answer:
    """The reply within the request's output budget: reasoning (reasoning models only) is spent first;
    what does not fit is cut, and a cut answer ends with "length" (Anthropic: max_tokens)."""
    model = str(body.get("model") or "")
    known = limits(model)
    budget = body.get("max_tokens") if anthropic else body.get("max_completion_tokens") or body.get("max_tokens")
    budget = budget or (known.max_output if known else None)
    reasoning = reply.reasoning_tokens if is_reasoning(model) and not anthropic else 0
    calls = [(t.name, t.arguments) for t in reply.tool_calls]
    visible = reply.completion_tokens or _rough_tokens(reply.content + json.dumps([a for _, a in calls]))
    text, finish = reply.content, "tool_calls" if calls else "stop"
    if budget is not None and reasoning + visible > budget:
        reasoning = min(reasoning, budget)
        visible = budget - reasoning
        text, calls, finish = reply.content[: visible * 4], [], "length"
    sent = json.dumps(body.get("messages", [])) + json.dumps(body.get("system", ""))
    prompt = reply.prompt_tokens or _rough_tokens(sent)
    return wire.Answer(text, calls, finish, prompt, visible, reasoning, reply.cached_tokens, reply.cache_write_tokens)


class _ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def llm(self) -> ScriptedLLM:
        return self.server.owner

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.llm.arrived("GET", self.path)
        bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        auth = bearer or self.headers.get("x-api-key")
        if not auth or (self.llm.api_key and auth != self.llm.api_key):
            send_json(self, 401, wire.openai_error(401, "Incorrect API key provided."))
        elif self.path.split("?")[0].rstrip("/").endswith("/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in self.llm.models]
            send_json(self, 200, {"object": "list", "data": data})
        elif "/models/" in self.path:  # one model: as the list has it, or OpenAI's 404
            model = self.path.split("?")[0].rsplit("/models/", 1)[1]
            if model in self.llm.models:
                send_json(self, 200, {"id": model, "object": "model", "created": 0, "owned_by": "scripted"})
            else:
                message = f"The model `{model}` does not exist or you do not have access to it."
                send_json(self, 404, wire.openai_error(404, message, "model", "model_not_found"))
        else:
            send_json(self, 404, wire.openai_error(404, f"Invalid URL (GET {self.path})", code="unknown_url"))

    def _unknown(self) -> None:
        self.llm.arrived(self.command, self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        send_json(self, 404, wire.openai_error(404, f"Invalid URL ({self.command} {self.path})", code="unknown_url"))

    do_PUT = do_DELETE = do_PATCH = _unknown

    def do_POST(self) -> None:
        self.llm.arrived("POST", self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.split("?")[0].rstrip("/")
        self.llm.record(self.path, body, [h for h in AUTH_HEADERS if h in {k.lower() for k in self.headers}])
        anthropic = path.endswith("/messages")
        if not (anthropic or path.endswith("/chat/completions")):
            return send_json(self, 404, wire.openai_error(404, f"Invalid URL (POST {self.path})", code="unknown_url"))
        try:
            (check_anthropic if anthropic else check_openai)(body, self.headers, self.llm.api_key)
            model = str(body.get("model") or "")
            if model not in self.llm.models:
                if anthropic:
                    raise RequestRefused(404, f"model: {model}")
                message = f"The model `{model}` does not exist or you do not have access to it."
                raise RequestRefused(404, message, "model", "model_not_found")
            check_window(body, self.llm.limits(model), anthropic, self.llm.dialect)
            reply = self.llm.script(body)
        except RequestRefused as refused:
            return self._error(anthropic, refused.status, refused.message, refused.param, refused.code)
        except Exception as e:  # a broken script is a 500 the client sees, not a hung test
            return self._error(anthropic, 500, f"script error: {type(e).__name__}: {e}")
        if reply.hang:
            self.llm._stopping.wait()
            return
        time.sleep(self.llm.latency if reply.delay is None else reply.delay)
        if reply.status != 200:
            message = reply.content or "scripted error"
            return self._error(anthropic, reply.status, message, None, reply.error_code or None, reply.retry_after)
        answer = answer_for(reply, body, anthropic)
        if not body.get("stream"):
            payload = wire.anthropic_message(answer, model) if anthropic else wire.openai_completion(answer, model)
            return send_json(self, 200, payload)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        frames = wire.anthropic_stream(answer, model) if anthropic else wire.openai_stream(answer, model, include_usage)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for frame in frames:
            self.wfile.write(frame)
        self.wfile.flush()
        self.close_connection = True

    def _error(self, anthropic: bool, status: int, message: str, param=None, code=None, retry_after=None) -> None:
        if anthropic:
            payload = wire.anthropic_error(status, message)
        elif self.llm.dialect == "vllm":
            payload = wire.vllm_error(status, message, param)
        else:
            payload = wire.openai_error(status, message, param, code)
        send_json(self, status, payload, wire.retry_headers(retry_after, anthropic))


def tool_names(request: dict) -> set[str]:
    return {t.get("function", {}).get("name") or t.get("name") for t in request.get("tools") or []}


def patch_as_tool_calls(patch: str, request: dict) -> list[ToolCall]:
    """The edits of a unified diff as the tool calls a model that knows the answer would send, with
    the edit tool the agent offers: Cline's `editor` (old_text → new_text per hunk), or, for models that
    Cline gives `apply_patch` instead, one call in that grammar, or else one `git apply` in its shell."""
    from unidiff import PatchSet

    if not {"editor", "apply_patch"} & tool_names(request):  # Claude Code's Bash, mini-swe-agent's bash
        shell = "bash" if "bash" in tool_names(request) else "Bash"
        return [ToolCall(shell, {"command": f"git apply <<'PATCH'\n{patch}PATCH"})]
    files = [f for f in PatchSet(patch) if not f.is_removed_file]
    if "editor" not in tool_names(request) and "apply_patch" in tool_names(request):
        lines = ["*** Begin Patch"]
        for patched in files:
            if patched.is_added_file:
                lines.append(f"*** Add File: {patched.path}")
                lines += [f"+{line.value.rstrip(chr(10))}" for hunk in patched for line in hunk]
                continue
            lines.append(f"*** Update File: {patched.path}")
            for hunk in patched:
                lines.append("@@")
                lines += [f"{line.line_type}{line.value.rstrip(chr(10))}" for line in hunk]
        lines.append("*** End Patch")
        return [ToolCall("apply_patch", {"input": "\n".join(lines) + "\n"})]
    calls = []
    for patched in files:
        for hunk in patched:
            old = "".join(line.value for line in hunk if not line.is_added)
            new = "".join(line.value for line in hunk if not line.is_removed)
            arguments = {"path": patched.path, "new_text": new}
            if not patched.is_added_file:
                arguments["old_text"] = old
            calls.append(ToolCall("editor", arguments))
    return calls


def task_of(request: dict, instances: list[dict]) -> dict | None:
    """The instance whose issue is the task of this conversation (matched on the issue's first line)."""
    user = messages_text(request, "user")
    for inst in instances:
        title = inst["problem_statement"].strip().splitlines()[0]
        if title in user:
            return inst
    return None
