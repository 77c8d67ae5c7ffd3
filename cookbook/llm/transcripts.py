"""A run's transcript (`transcript.jsonl`, written by the gateway): one JSON line per LLM request.

An agent sends its whole conversation with every request, so storing each request body whole makes a
transcript grow with the square of the run's length. Each line stores instead what is new:

    {"time": …, "duration_s": …, "path": "/chat/completions", "status": 200, "usage": {…},
     "reply_text": "…", "tool_calls": [{"name": …, "arguments": …}], "rate_limit_wait_s": …,
     "request": {"model": "gpt-4.1", "stream": true, …,           # every field of the body but:
                 "messages_prefix": {"entry": 3, "length": 12},   # the first 12 messages of entry 3's request
                 "messages_new": [ …the messages after them… ],
                 "same_as": {"tools": 3, "system": 3}}}            # fields equal to entry 3's (not repeated)

(entries are numbered from 0 in file order; `messages_prefix` and `same_as` are absent when nothing is
shared). So a transcript grows linearly with the number of requests. `requests(path)` rebuilds every
request whole, `conversation(path)` the run's conversation for reading.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

from cookbook.credentials import scrub

SHARED_FIELDS = ("tools", "system")  # large fields an agent sends unchanged with every request


def _common_prefix(a: list, b: list) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class TranscriptWriter:
    """Appends one run's entries, each request stored against the most similar of the last `window`
    requests (an agent may interleave side requests — titles, summaries — with its main conversation)."""

    def __init__(self, path: Path, window: int = 4):
        self.path = path
        self.count = 0
        self._recent: deque[tuple[int, list, dict]] = deque(maxlen=window)  # (entry, messages, shared fields)

    def append(self, entry: dict) -> None:
        request = entry.get("request")
        if isinstance(request, dict) and isinstance(request.get("messages"), list):
            entry = {**entry, "request": self._compact(request)}
        with open(self.path, "a") as transcript:
            transcript.write(scrub(json.dumps(entry)) + "\n")  # a key that reached a request stops here
        self.count += 1

    def _compact(self, request: dict) -> dict:
        messages = request["messages"]
        compact = {k: v for k, v in request.items() if k != "messages"}
        base, shared = None, 0
        for index, earlier, _ in self._recent:
            n = _common_prefix(earlier, messages)
            if n and n >= shared:
                base, shared = index, n
        if base is not None:
            compact["messages_prefix"] = {"entry": base, "length": shared}
        compact["messages_new"] = messages[shared:]
        same = {}
        for name in SHARED_FIELDS:
            if name not in request:
                continue
            match = next((i for i, _, fields in reversed(self._recent) if fields.get(name) == request[name]), None)
            if match is not None:
                same[name] = match
                del compact[name]
        if same:
            compact["same_as"] = same
        fields = {name: request[name] for name in SHARED_FIELDS if name in request}
        self._recent.append((self.count, messages, fields))
        return compact


def read_entries(path: Path | str) -> list[dict]:
    """The transcript's entries in file order; a torn last line (a run killed mid-write) is left out."""
    entries = []
    for line in Path(path).read_text(errors="replace").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def requests(path: Path | str) -> list[dict]:
    """Every entry of a transcript with its request rebuilt whole (`messages`, `tools`, `system` …)."""
    entries = read_entries(path)
    rebuilt: list[dict] = []
    for entry in entries:
        request = dict(entry.get("request") or {})
        if "messages_new" in request:
            prefix = request.pop("messages_prefix", None)
            head = rebuilt[prefix["entry"]]["request"]["messages"][: prefix["length"]] if prefix else []
            request["messages"] = head + request.pop("messages_new")
            for name, index in request.pop("same_as", {}).items():
                request[name] = rebuilt[index]["request"][name]
        rebuilt.append({**entry, "request": request})
    return rebuilt


def conversation(path: Path | str) -> list[dict]:
    """The run's conversation for reading: the messages of its longest request (the main conversation;
    Anthropic's `system` first, as a system message) followed by the model's reply to it."""
    entries = requests(path)
    if not entries:
        return []
    last = max(reversed(entries), key=lambda e: len(e["request"].get("messages", [])))
    request = last["request"]
    messages = list(request.get("messages", []))
    if request.get("system"):
        messages.insert(0, {"role": "system", "content": request["system"]})
    reply = {"role": "assistant", "content": last.get("reply_text", "")}
    if last.get("tool_calls"):
        reply["tool_calls"] = last["tool_calls"]
    return [*messages, reply]
