"""The scripted server's replies on the wire, as OpenAI's and Anthropic's APIs shape them (see
/work/shared/REAL_APIS.md): error bodies, usage objects, whole replies and their streamed events.

An `Answer` is what the server decided to send (text, tool calls, finish reason, token counts); these
functions only dress it in one API's format. Streams are lists of SSE frames (bytes).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field

OPENAI_ERRORS = {  # status → (type, code) of OpenAI's error body
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}
ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Answer:
    """What the server sends: the visible text and tool calls (name, arguments dict), why it stopped, and
    the tokens (`prompt` counts every input token, cached and cache-written ones included)."""

    text: str
    tool_calls: list[tuple[str, dict]] = field(default_factory=list)
    finish: str = "stop"  # OpenAI's finish_reason: stop, tool_calls or length
    prompt: int = 0
    visible: int = 0
    reasoning: int = 0
    cached: int = 0
    cache_write: int = 0


def openai_error(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    kind, default_code = OPENAI_ERRORS.get(status, ("invalid_request_error", None))
    if code == "insufficient_quota":
        kind = "insufficient_quota"
    return {"error": {"message": message, "type": kind, "param": param, "code": code or default_code}}


VLLM_ERRORS = {400: "BadRequestError", 404: "NotFoundError", 500: "InternalServerError", 503: "ServiceUnavailable"}


def vllm_error(status: int, message: str, param: str | None = None) -> dict:
    """vLLM's OpenAI-compatible error: the HTTP status as its `code` (never a string code such as OpenAI's
    `context_length_exceeded`); its API-key check answers a bare `{"error": "Unauthorized"}`."""
    if status == 401:
        return {"error": "Unauthorized"}
    return {
        "error": {
            "message": message,
            "type": VLLM_ERRORS.get(status, "BadRequestError"),
            "param": param,
            "code": status,
        }
    }


def anthropic_error(status: int, message: str) -> dict:
    return {"type": "error", "error": {"type": ANTHROPIC_ERRORS.get(status, "api_error"), "message": message}}


def retry_headers(seconds: float | None, anthropic: bool) -> dict:
    """Retry-After (whole seconds, rounded up) and, at OpenAI, retry-after-ms."""
    if seconds is None:
        return {}
    headers = {"retry-after": str(max(1, math.ceil(seconds)))}
    if not anthropic:
        headers["retry-after-ms"] = str(int(seconds * 1000))
    return headers


def _sse(data: dict, event: str | None = None) -> bytes:
    return (f"event: {event}\n" if event else "").encode() + f"data: {json.dumps(data)}\n\n".encode()


def _pieces(text: str, parts: int = 3) -> list[str]:
    """`text` in up to `parts` pieces (a stream never promises whole values in one chunk)."""
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# -- OpenAI chat completions --------------------------------------------------------------------------
def openai_usage(answer: Answer) -> dict:
    completion = answer.visible + answer.reasoning
    return {
        "prompt_tokens": answer.prompt,
        "completion_tokens": completion,
        "total_tokens": answer.prompt + completion,
        "prompt_tokens_details": {"cached_tokens": answer.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": answer.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _openai_calls(answer: Answer) -> list[dict]:
    return [
        {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
        for n, a in answer.tool_calls
    ]


def openai_completion(answer: Answer, model: str) -> dict:
    message: dict = {"role": "assistant", "content": answer.text or None, "refusal": None}
    if answer.tool_calls:
        message["tool_calls"] = _openai_calls(answer)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish}],
        "usage": openai_usage(answer),
    }


def openai_stream(answer: Answer, model: str, include_usage: bool) -> list[bytes]:
    """The chunks of a streamed completion: the role, the text in pieces, each tool call as a first delta
    (index, id, type, name, arguments "") and then argument fragments, the finish reason, and — only when
    the request set `stream_options.include_usage` — one more chunk with empty `choices` and the usage."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion.chunk", "created": int(time.time())}
    base["model"] = model

    def chunk(delta: dict, finish: str | None = None) -> bytes:
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"content": piece}) for piece in _pieces(answer.text) if piece]
    for index, call in enumerate(_openai_calls(answer)):
        first = {"index": index, "id": call["id"], "type": "function"}
        first["function"] = {"name": call["function"]["name"], "arguments": ""}
        frames.append(chunk({"tool_calls": [first]}))
        for piece in _pieces(call["function"]["arguments"]):
            frames.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    frames.append(chunk({}, answer.finish))
    if include_usage:
        frames.append(_sse({**base, "choices": [], "usage": openai_usage(answer)}))
    return [*frames, b"data: [DONE]\n\n"]


# -- Anthropic messages ---------------------------------------------------------------------------------
STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


def anthropic_usage(answer: Answer, output: int | None = None) -> dict:
    """Anthropic's usage: `input_tokens` are the prompt tokens neither read from nor written to the cache."""
    return {
        "input_tokens": answer.prompt - answer.cached - answer.cache_write,
        "cache_creation_input_tokens": answer.cache_write,
        "cache_read_input_tokens": answer.cached,
        "output_tokens": answer.visible if output is None else output,
    }


def anthropic_message(answer: Answer, model: str) -> dict:
    blocks = [{"type": "text", "text": answer.text}] if answer.text else []
    blocks += [
        {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:12]}", "name": name, "input": arguments}
        for name, arguments in answer.tool_calls
    ]
    return {
        "id": f"msg_{uuid.uuid4().hex[:12]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": STOP_REASONS[answer.finish],
        "stop_sequence": None,
        "usage": anthropic_usage(answer),
    }


def anthropic_stream(answer: Answer, model: str) -> list[bytes]:
    """message_start (input usage), a ping, each block (text deltas; a tool call's input as
    `input_json_delta` fragments), message_delta (stop reason, output usage), message_stop."""
    message = anthropic_message(answer, model)

    def event(kind: str, data: dict) -> bytes:
        return _sse({"type": kind, **data}, event=kind)

    start = {**message, "content": [], "stop_reason": None, "usage": anthropic_usage(answer, output=1)}
    frames = [event("message_start", {"message": start}), event("ping", {})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            frames.append(event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}))
            for piece in _pieces(block["text"]):
                delta = {"type": "text_delta", "text": piece}
                frames.append(event("content_block_delta", {"index": index, "delta": delta}))
        else:
            frames.append(event("content_block_start", {"index": index, "content_block": {**block, "input": {}}}))
            for piece in _pieces(json.dumps(block["input"])):
                delta = {"type": "input_json_delta", "partial_json": piece}
                frames.append(event("content_block_delta", {"index": index, "delta": delta}))
        frames.append(event("content_block_stop", {"index": index}))
    final = {"delta": {"stop_reason": message["stop_reason"], "stop_sequence": None}}
    frames.append(event("message_delta", {**final, "usage": {"output_tokens": answer.visible}}))
    return [*frames, event("message_stop", {})]
