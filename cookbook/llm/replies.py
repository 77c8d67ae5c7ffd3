"""What a model's reply says, read while it passes through the gateway: its usage, its text and its tool
calls, from OpenAI's chat completion chunks or Anthropic's message events (streamed or whole)."""

from __future__ import annotations

import json


class ReplyReader:
    """Collects usage, text and tool calls from a reply: `feed` an SSE stream's chunks as they pass
    through, or `take` a whole (not streamed) reply body."""

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
