"""One agent run as a trace Phoenix can show: the run (the root span), the agent's LLM calls from the
gateway's transcript, and the judge's call on the result beside them.

Each LLM span carries the model name and token counts (OpenInference's `llm.*` attributes), so Phoenix
prices it with its own model table and the experiment's Cost chart fills; a model Phoenix cannot price
(the offline demo's scripted one, a private deployment) shows its tokens only. The transcript is read
entry by entry and never assumed to hold a whole conversation per request: each span shows the request's
newest messages (those after the last assistant turn) and the reply.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cookbook.llm.transcripts import requests
from cookbook.phoenix.otlp import SpanRecord, TraceRecord, Value

MAX_TEXT_CHARS = 8_000  # per message or output shown in a span; longer text keeps its head and tail


def text(value) -> str:
    """A row's text field as a string ("" for a missing value, as CSVs read back NaN)."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def number(value) -> float:
    """A row's numeric field as a float (0 for a missing value)."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(result) else result


def cut(value: str, limit: int = MAX_TEXT_CHARS) -> str:
    if len(value) <= limit:
        return value
    head = limit // 4
    return f"{value[:head]}\n[… {len(value) - limit} characters cut …]\n{value[-(limit - head) :]}"


def epoch(value, fallback: float) -> float:
    """Epoch seconds of a row's timestamp (ISO text or datetime), or `fallback`."""
    if not text(value):
        return fallback
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).timestamp()


def token_counts(usage: dict) -> dict[str, int]:
    """OpenInference token counts from an OpenAI or Anthropic `usage`: the prompt total (for Anthropic,
    input plus cache reads and writes), completion, total, and the cached and reasoning details."""
    cache_read = usage.get("cache_read_input_tokens") or (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    cache_write = usage.get("cache_creation_input_tokens")
    if "prompt_tokens" in usage:
        prompt = int(usage.get("prompt_tokens") or 0)
    else:
        prompt = int(usage.get("input_tokens") or 0) + int(cache_read or 0) + int(cache_write or 0)
    completion = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
    counts = {"prompt": prompt, "completion": completion, "total": prompt + completion}
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    for key, value in (
        ("prompt_details.cache_read", cache_read),
        ("prompt_details.cache_write", cache_write),
        ("completion_details.reasoning", reasoning),
    ):
        if value:
            counts[key] = int(value)
    return counts


def _content(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts; Anthropic's tool results nest theirs
        return "\n".join(p.get("text") or _content(p.get("content")) for p in content if isinstance(p, dict))
    return ""


def _new_messages(request: dict) -> list[dict]:
    """The request's messages after its last assistant turn (with Anthropic's `system` on a first turn)."""
    messages = request.get("messages") or request.get("messages_new") or []  # a linear transcript stores what is new
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    new = messages[last + 1 :]
    if last < 0 and request.get("system"):
        new = [{"role": "system", "content": request["system"]}, *new]
    return new


def llm_attributes(model: str, provider: str, counts: dict[str, int]) -> dict[str, Value]:
    return {
        "llm.model_name": model,
        "llm.provider": provider,
        "llm.system": provider,
        **{f"llm.token_count.{key}": value for key, value in counts.items()},
    }


def llm_span(entry: dict, number_in_run: int) -> SpanRecord:
    """One gateway transcript entry as an LLM span."""
    request = entry.get("request") or {}
    provider = "anthropic" if str(entry.get("path", "")).endswith("/messages") else "openai"
    attributes = llm_attributes(str(request.get("model") or ""), provider, token_counts(entry.get("usage") or {}))
    for i, message in enumerate(_new_messages(request)):
        attributes[f"llm.input_messages.{i}.message.role"] = str(message.get("role", ""))
        attributes[f"llm.input_messages.{i}.message.content"] = cut(_content(message.get("content")))
    reply = text(entry.get("reply_text"))
    attributes["llm.output_messages.0.message.role"] = "assistant"
    attributes["llm.output_messages.0.message.content"] = cut(reply)
    calls = entry.get("tool_calls") or []
    for j, call in enumerate(calls):
        function = call.get("function") or call
        prefix = f"llm.output_messages.0.message.tool_calls.{j}.tool_call.function"
        attributes[f"{prefix}.name"] = str(function.get("name", ""))
        attributes[f"{prefix}.arguments"] = cut(str(function.get("arguments", "")))
    called = "\n".join(f"{c.get('name', '')}({c.get('arguments', '')})" for c in calls)
    attributes["output.value"] = cut(reply or called)
    status = int(number(entry.get("status")))
    error = ""
    if status >= 400 or entry.get("error"):
        error = f"HTTP {status or 502}: {text(entry.get('error')) or text(entry.get('reply_body'))[:500]}"
    start = number(entry.get("time"))
    end = start + number(entry.get("duration_s"))
    return SpanRecord(f"LLM call {number_in_run}", "LLM", start, end, attributes, error)


def read_transcript(path: str) -> list[dict]:
    """The entries of a gateway transcript, each with its request rebuilt whole (transcripts store only
    each request's new messages); [] when there is none."""
    return requests(path) if path and Path(path).is_file() else []


def _agent_spans(row: dict, start: float, end: float) -> list[SpanRecord]:
    entries = read_transcript(text(row.get("transcript_path")))
    if entries:
        return [llm_span(entry, i + 1) for i, entry in enumerate(entries)]
    prompt, completion = int(number(row.get("prompt_tokens"))), int(number(row.get("completion_tokens")))
    if not prompt + completion:
        return []
    # no transcript to read (moved, or a run recorded elsewhere): the run's totals as one span
    counts = {"prompt": prompt, "completion": completion, "total": prompt + completion}
    attributes = llm_attributes(text(row.get("model")), "openai", counts)
    attributes["output.value"] = f"{int(number(row.get('llm_calls')))} LLM calls (totals; no transcript found)"
    return [SpanRecord("agent LLM calls (totals)", "LLM", start, end, attributes)]


def _judge_span(row: dict, judge_model: str, at: float) -> list[SpanRecord]:
    prompt, completion = int(number(row.get("judge_prompt_tokens"))), int(number(row.get("judge_completion_tokens")))
    verdict, error = text(row.get("correctness")), text(row.get("judge_error"))
    if not (prompt + completion or verdict or error):
        return []
    counts = {"prompt": prompt, "completion": completion, "total": prompt + completion}
    attributes = llm_attributes(judge_model or "judge", "openai", counts)
    attributes["output.value"] = cut(f"{verdict}: {text(row.get('explanation'))}" if verdict else error)
    cost, improvement = number(row.get("judge_cost_usd")), text(row.get("improvement"))
    attributes["metadata"] = json.dumps({"role": "judge", "cost_usd": cost, "improvement": improvement})
    return [SpanRecord("judge", "LLM", at, at, attributes, error)]


def run_summary(row: dict) -> dict:
    """What the experiment run shows of the agent's run: how it ended, its tokens and its cost
    (None when the model has no price: then the tokens are the measure)."""
    prompt, completion = int(number(row.get("prompt_tokens"))), int(number(row.get("completion_tokens")))
    cost = row.get("cost_usd")
    return {
        "instance_id": text(row.get("instance_id")),
        "attempt": int(number(row.get("attempt"))),
        "outcome": text(row.get("outcome")),
        "pass_or_fail": text(row.get("pass_or_fail")),
        "error": text(row.get("error")),
        "agent": text(row.get("agent")),
        "model": text(row.get("model")),
        "ruleset_sha": text(row.get("ruleset_sha")),
        "llm_calls": int(number(row.get("llm_calls"))),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost_usd": None if cost is None or (isinstance(cost, float) and math.isnan(cost)) else float(cost),
        "duration_s": number(row.get("duration_s")),
    }


def run_trace(row: dict, seed: str, judge_model: str = "") -> TraceRecord:
    """The trace of one result row: the run (root), the agent's LLM calls, the judge's call."""
    now = datetime.now(UTC).timestamp()
    start = epoch(row.get("started_at"), now)
    end = max(epoch(row.get("finished_at"), start), start)
    summary = run_summary(row)
    root = SpanRecord(
        f"{summary['agent'] or 'agent'} on {summary['instance_id']}",
        "AGENT",
        start,
        end,
        {
            "input.value": cut(text(row.get("problem_statement")) or summary["instance_id"]),
            "output.value": cut(text(row.get("cline_patch"))),
            "metadata": json.dumps(summary),
        },
        error=(summary["error"] or "infrastructure error") if summary["outcome"] == "error" else "",
        parent=None,
    )
    return TraceRecord(seed, [root, *_agent_spans(row, start, end), *_judge_span(row, judge_model, end)])
