"""A scripted OpenAI-compatible server on 127.0.0.1: the only test double of the project.

It answers `POST /v1/chat/completions` (streaming and not, text and tool calls, with usage numbers),
`GET /v1/models`, and Anthropic's `POST /v1/messages` (for Claude Code). A *script* — a function of
the request body — chooses each reply, so a test or the offline demo can make the model behave
differently by task, by turn, or by whether the rules in the system prompt contain a sentence. Every
request is logged (in memory and, optionally, to a JSONL file), so tests assert on what a client
really sent.

    with ScriptedLLM(lambda request: Reply(content="hello")) as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key="x")
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cookbook.llm.http_service import BackgroundHTTPService, send_json
from cookbook.llm.messages import messages_text


@dataclass
class ToolCall:
    name: str
    arguments: dict

    def to_openai(self, index: int) -> dict:
        return {
            "index": index,
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments)},
        }


@dataclass
class Reply:
    """One scripted answer. `status` other than 200 answers with an error body instead."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int | None = None  # default: a rough count of the request
    completion_tokens: int | None = None  # default: a rough count of the reply
    status: int = 200
    delay: float | None = None  # seconds before answering; default: the server's latency
    hang: bool = False  # never answer (until the client goes away or the server stops)


Script = Callable[[dict], Reply]


def turn(request: dict) -> int:
    """How many assistant messages the conversation already holds (0 on the first request)."""
    return sum(1 for m in request.get("messages", []) if m.get("role") == "assistant")


class ScriptedLLM(BackgroundHTTPService):
    """The server. `latency` is added before every reply (a slow model, for benchmarks)."""

    def __init__(
        self, script: Script, latency: float = 0.0, log_path: Path | str | None = None, model: str = "scripted-model"
    ):
        self.script = script
        self.latency = latency
        self.log_path = Path(log_path) if log_path else None
        self.model = model
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        return _ScriptedHandler

    def _closing(self) -> None:
        self._stopping.set()  # releases the handlers of hanging replies

    def record(self, path: str, body: dict) -> None:
        entry = {"time": time.time(), "path": path, "body": body}
        with self._lock:
            self.requests.append(entry)
            if self.log_path:
                with open(self.log_path, "a") as log:
                    log.write(json.dumps(entry) + "\n")

    def chat_requests(self) -> list[dict]:
        with self._lock:
            return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]


def _rough_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class _ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def llm(self):
        return self.server.owner

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(
                200, {"object": "list", "data": [{"id": self.llm.model, "object": "model", "owned_by": "scripted"}]}
            )
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.llm.record(self.path, body)
        anthropic = self.path.split("?")[0].rstrip("/").endswith("/messages")
        if not (anthropic or self.path.rstrip("/").endswith("/chat/completions")):
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            reply = self.llm.script(body)
        except Exception as e:  # a broken script is a 500 the client sees, not a hung test
            self._json(500, {"error": {"message": f"script error: {type(e).__name__}: {e}"}})
            return
        if reply.hang:
            self.llm._stopping.wait()
            return
        time.sleep(self.llm.latency if reply.delay is None else reply.delay)
        if reply.status != 200:
            self._json(reply.status, {"error": {"message": reply.content or "scripted error", "type": "scripted"}})
            return
        usage = {
            "prompt_tokens": reply.prompt_tokens or _rough_tokens(json.dumps(body.get("messages", []))),
            "completion_tokens": reply.completion_tokens
            or _rough_tokens(reply.content + json.dumps([t.arguments for t in reply.tool_calls])),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if anthropic:
            self._anthropic(body, reply, usage)
            return
        finish = "tool_calls" if reply.tool_calls else "stop"
        calls = [t.to_openai(i) for i, t in enumerate(reply.tool_calls)]
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "created": int(time.time()),
            "model": body.get("model", self.llm.model),
        }
        if not body.get("stream"):
            message = {"role": "assistant", "content": reply.content or None}
            if calls:
                message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
            self._json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "usage": usage,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()

        def send(delta: dict, finish_reason=None, **extra) -> None:
            chunk = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                **extra,
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())

        send({"role": "assistant", "content": ""})
        if reply.content:
            send({"content": reply.content})
        if calls:
            send({"tool_calls": calls})
        send({}, finish)
        if (body.get("stream_options") or {}).get("include_usage", True):
            chunk = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def _anthropic(self, body: dict, reply: Reply, usage: dict) -> None:
        """The reply in Anthropic's Messages API format (streamed as its SSE events, or whole)."""
        blocks = ([{"type": "text", "text": reply.content}] if reply.content else []) + [
            {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:12]}", "name": t.name, "input": t.arguments}
            for t in reply.tool_calls
        ]
        message = {
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", self.llm.model),
            "content": blocks,
            "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"]},
        }
        if not body.get("stream"):
            self._json(200, message)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()

        def event(kind: str, data: dict) -> None:
            self.wfile.write(f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode())

        event(
            "message_start",
            {
                "message": {
                    **message,
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": 1},
                }
            },
        )
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
                delta = {"type": "text_delta", "text": block["text"]}
                event("content_block_delta", {"index": index, "delta": delta})
            else:
                event("content_block_start", {"index": index, "content_block": {**block, "input": {}}})
                event(
                    "content_block_delta",
                    {
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
                    },
                )
            event("content_block_stop", {"index": index})
        event(
            "message_delta",
            {
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["completion_tokens"]},
            },
        )
        event("message_stop", {})
        self.wfile.flush()
        self.close_connection = True

    def _json(self, status: int, payload: dict) -> None:
        send_json(self, status, payload)


def tool_names(request: dict) -> set[str]:
    return {t.get("function", {}).get("name") or t.get("name") for t in request.get("tools") or []}


def patch_as_tool_calls(patch: str, request: dict) -> list[ToolCall]:
    """The edits of a unified diff as the tool calls a model that knows the answer would send, with
    the edit tool the agent offers: Cline's `editor` (old_text → new_text per hunk) or, for models
    that Cline gives `apply_patch` instead, one call in that grammar."""
    from unidiff import PatchSet

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
