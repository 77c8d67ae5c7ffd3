"""Transcript size against run length: an agent conversation of N requests (a ~24 kB system prompt and
~8 kB of tools sent every time, ~1 kB added per turn) through the gateway. Prints bytes per request for
N = 25, 50, 100 (flat: linear growth) and the ratio to storing every request body whole (quadratic)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx

from cookbook.llm.gateway import Gateway
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall
from cookbook.seams import Endpoint


def transcript_bytes(requests: int, gateway: Gateway, folder: Path) -> tuple[int, int]:
    """(transcript bytes, bytes of the request bodies stored whole) for one conversation."""
    system = {"role": "system", "content": "You are an agent. " + "rules " * 4_000}
    tools = [{"type": "function", "function": {"name": f"tool{i}", "description": "d" * 400}} for i in range(20)]
    path = folder / f"t{requests}.jsonl"
    url = gateway.register(f"run{requests}", path)
    messages, whole = [system, {"role": "user", "content": "Fix the bug"}], 0
    with httpx.Client(timeout=60) as client:
        for n in range(requests):
            body = {"model": "gpt-4.1", "messages": messages, "tools": tools, "stream": True}
            client.post(f"{url}/chat/completions", json=body)
            whole += len(json.dumps(body))
            call = {"id": f"c{n}", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}
            result = {"role": "tool", "tool_call_id": f"c{n}", "content": "x" * 1_000}
            messages = [*messages, {"role": "assistant", "content": None, "tool_calls": [call]}, result]
    gateway.finish(f"run{requests}")
    return path.stat().st_size, whole


def main() -> None:
    reply = Reply(tool_calls=[ToolCall("read_file", {"path": "a.py"})])
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedLLM(lambda r: reply, models={"gpt-4.1"}) as llm,
        Gateway(Endpoint(llm.base_url, "bench", "gpt-4.1")) as gateway,
    ):
        rows = [(n, *transcript_bytes(n, gateway, Path(tmp))) for n in (25, 50, 100)]
    for n, size, whole in rows:
        print(
            f"transcripts: {n:3d} requests: {size / 1e3:7.0f} kB, {size / n / 1e3:5.1f} kB per request; "
            f"bodies stored whole would take {whole / 1e6:6.1f} MB (x{whole / size:.0f})"
        )
    (n1, s1, _), (n2, s2, _) = rows[1], rows[2]
    print(f"  bytes per request at {n2} / at {n1} requests: {(s2 / n2) / (s1 / n1):.2f} (linear: ~1, quadratic: ~2)")


if __name__ == "__main__":
    main()
