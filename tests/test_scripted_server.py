"""The scripted server is as strict as the real APIs (REAL_APIS.md): if it were kinder, the tests of the
client, the gateway and the agents could not catch what the real services do."""

import json
import re

import httpx
import openai
import pytest

from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall

KEY = "sk-test"
ARGUMENTS = {"path": "src/module.py", "old_text": "return a - b\n", "new_text": "return a + b\n"}


def sse_data(response: httpx.Response) -> list:
    """The `data:` payloads of an SSE reply, JSON-decoded ([DONE] kept as the string)."""
    payloads = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            payloads.append(line[6:] if line[6:] == "[DONE]" else json.loads(line[6:]))
    return payloads


def post(llm, body, path="/chat/completions", headers=None):
    headers = {"Authorization": f"Bearer {KEY}"} if headers is None else headers
    return httpx.post(llm.base_url + path, json=body, headers=headers, timeout=30)


@pytest.fixture
def llm():
    script = lambda request: Reply(content="I will edit it.", tool_calls=[ToolCall("editor", ARGUMENTS)])  # noqa: E731
    with ScriptedLLM(script, models={"gpt-4.1", "gpt-5", "claude-sonnet-4-5"}, api_key=KEY) as server:
        yield server


def chat(model="gpt-4.1", **extra):
    return {"model": model, "messages": [{"role": "user", "content": "fix the bug"}], **extra}


def test_a_stream_carries_usage_only_when_asked_and_splits_tool_arguments(llm):
    plain = sse_data(post(llm, chat(stream=True)))
    assert plain[-1] == "[DONE]" and not any("usage" in chunk for chunk in plain[:-1])

    chunks = sse_data(post(llm, chat(stream=True, stream_options={"include_usage": True})))[:-1]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] > 0
    assert not any("usage" in chunk for chunk in chunks[:-1])
    deltas = [
        c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[:-1] if "tool_calls" in c["choices"][0]["delta"]
    ]
    first, rest = deltas[0], deltas[1:]
    assert first["id"] and first["type"] == "function" and first["function"] == {"name": "editor", "arguments": ""}
    assert len(rest) >= 2 and all(set(d) == {"index", "function"} and set(d["function"]) == {"arguments"} for d in rest)
    assert json.loads("".join(d["function"]["arguments"] for d in rest)) == ARGUMENTS

    # the openai client joins the fragments as a real one must
    client = openai.OpenAI(base_url=llm.base_url, api_key=KEY, max_retries=0)
    joined = ""
    for chunk in client.chat.completions.create(**chat(), stream=True):
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            joined += call.function.arguments or ""
    assert json.loads(joined) == ARGUMENTS


def test_reasoning_tokens_count_against_the_answer_budget():
    with ScriptedLLM(
        lambda r: Reply(content="<ruleset>\n- a\n</ruleset>", reasoning_tokens=6000), models={"gpt-5"}
    ) as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key=KEY, max_retries=0)
        cut = client.chat.completions.create(**chat("gpt-5"), max_completion_tokens=3000)
        room = client.chat.completions.create(**chat("gpt-5"), max_completion_tokens=32000)
        unbounded = client.chat.completions.create(**chat("gpt-5"))
    assert cut.choices[0].finish_reason == "length" and not cut.choices[0].message.content
    assert cut.usage.completion_tokens == 3000 and cut.usage.completion_tokens_details.reasoning_tokens == 3000
    assert room.choices[0].finish_reason == "stop" and "<ruleset>" in room.choices[0].message.content
    assert room.usage.completion_tokens_details.reasoning_tokens == 6000 < room.usage.completion_tokens
    assert unbounded.choices[0].finish_reason == "stop"  # no budget: the model's own output limit


def test_reasoning_models_reject_max_tokens_and_temperature_and_others_reject_reasoning_effort(llm):
    for body, param, code in [
        (chat("gpt-5", max_tokens=100), "max_tokens", "unsupported_parameter"),
        (chat("gpt-5", temperature=0.2), "temperature", "unsupported_value"),
        (chat("gpt-4.1", reasoning_effort="low"), "reasoning_effort", "unsupported_parameter"),
        (chat("gpt-4.1", stream_options={"include_usage": True}), "stream_options", "invalid_value"),
    ]:
        response = post(llm, body)
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert post(llm, chat("gpt-5", temperature=1, reasoning_effort="minimal")).status_code == 200
    assert post(llm, chat("gpt-4.1", temperature=0.2, max_tokens=50)).status_code == 200


def test_unknown_model_missing_key_and_scripted_429(llm):
    client = openai.OpenAI(base_url=llm.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(**chat("gpt-4o"))
    assert missing.value.code == "model_not_found" and "`gpt-4o` does not exist" in str(missing.value)
    assert post(llm, chat(), headers={}).status_code == 401
    wrong = post(llm, chat(), headers={"Authorization": "Bearer sk-other"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert [r["auth"] for r in llm.requests[-2:]] == [[], ["authorization"]]

    llm.script = lambda request: Reply(status=429, content="Rate limit reached", retry_after=0.25)
    limited = post(llm, chat())
    assert limited.status_code == 429 and limited.headers["retry-after-ms"] == "250"
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    llm.script = lambda request: Reply(status=429, content="You exceeded your quota", error_code="insufficient_quota")
    assert post(llm, chat()).json()["error"]["type"] == "insufficient_quota"


ANTHROPIC = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}


def messages(model="claude-sonnet-4-5", **extra):
    return {"model": model, "max_tokens": 4096, "messages": [{"role": "user", "content": "fix it"}], **extra}


def test_anthropic_errors_usage_cache_fields_and_stream_events(llm):
    llm.script = lambda request: Reply(
        content="On it.",
        tool_calls=[ToolCall("Edit", ARGUMENTS)],
        prompt_tokens=10_000,
        cached_tokens=6_000,
        cache_write_tokens=2_000,
        completion_tokens=300,
    )
    whole = post(llm, messages(), "/messages", ANTHROPIC).json()
    assert whole["usage"] == {
        "input_tokens": 2_000,  # the prompt tokens neither read from nor written to the cache
        "cache_creation_input_tokens": 2_000,
        "cache_read_input_tokens": 6_000,
        "output_tokens": 300,
    }
    assert whole["stop_reason"] == "tool_use" and whole["content"][1]["input"] == ARGUMENTS

    events = sse_data(post(llm, messages(stream=True), "/messages", ANTHROPIC))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and "ping" in kinds and kinds[-1] == "message_stop"
    assert events[0]["message"]["usage"]["cache_read_input_tokens"] == 6_000
    fragments = [e["delta"]["partial_json"] for e in events if e.get("delta", {}).get("type") == "input_json_delta"]
    assert len(fragments) >= 2 and json.loads("".join(fragments)) == ARGUMENTS
    assert next(e for e in events if e["type"] == "message_delta")["usage"]["output_tokens"] == 300

    cut = post(llm, messages(max_tokens=100), "/messages", ANTHROPIC).json()
    assert cut["stop_reason"] == "max_tokens" and cut["usage"]["output_tokens"] == 100

    for body, headers, status, kind in [
        (messages("claude-opus-9"), ANTHROPIC, 404, "not_found_error"),
        (
            messages(),
            {"anthropic-version": "2023-06-01", "Authorization": f"Bearer {KEY}"},
            401,
            "authentication_error",
        ),
        (messages(), {"x-api-key": KEY}, 400, "invalid_request_error"),
        ({k: v for k, v in messages().items() if k != "max_tokens"}, ANTHROPIC, 400, "invalid_request_error"),
    ]:
        response = post(llm, body, "/messages", headers)
        assert response.status_code == status
        assert response.json() == {
            "type": "error",
            "error": {"type": kind, "message": response.json()["error"]["message"]},
        }
    llm.script = lambda request: Reply(status=429, content="slow down", retry_after=2)
    limited = post(llm, messages(), "/messages", ANTHROPIC)
    assert limited.json()["error"]["type"] == "rate_limit_error" and limited.headers["retry-after"] == "2"


def test_a_request_over_the_models_window_is_refused_as_the_real_api_does():
    with ScriptedLLM(lambda r: Reply(content="ok"), models={"gpt-4o"}, api_key=KEY) as llm:
        big = {"model": "gpt-4o", "messages": [{"role": "user", "content": "word " * 120_000}]}
        assert post(llm, big).status_code == 200  # ~120k tokens fit gpt-4o's 128k window
        over = post(llm, {**big, "max_completion_tokens": 16_000})  # but not with a 16k answer budget
        assert over.status_code == 400 and over.json()["error"]["code"] == "context_length_exceeded"
        huge = post(llm, {"model": "gpt-4o", "messages": [{"role": "user", "content": "word " * 130_000}]})
        assert huge.json()["error"]["code"] == "context_length_exceeded"


def test_each_provider_refuses_a_prompt_over_the_window_in_its_own_words():
    """A declared window (a vLLM deployment's --max-model-len) counts the tools too; vLLM says it with no code,
    Anthropic with `prompt is too long`, each in its own error body."""
    tools = [{"type": "function", "function": {"name": "read_file", "description": "word " * 3_000}}]
    long = {"model": "qwen-coder", "messages": [{"role": "user", "content": "word " * 2_000}]}
    served = dict(models={"qwen-coder"}, windows={"qwen-coder": 4_096})
    with ScriptedLLM(lambda r: Reply(content="ok"), **served) as openai_like:
        assert post(openai_like, long).status_code == 200
        over = post(openai_like, {**long, "tools": tools})  # the messages fit; with the tools' definitions, not
        assert over.status_code == 400 and over.json()["error"]["code"] == "context_length_exceeded"
    with ScriptedLLM(lambda r: Reply(content="ok"), **served, dialect="vllm", api_key=KEY) as vllm:
        assert post(vllm, long).status_code == 200
        error = post(vllm, {**long, "tools": tools}).json()["error"]
        assert (error["type"], error["param"], error["code"]) == ("BadRequestError", None, 400)
        assert error["message"].startswith("This model's maximum context length is 4096 tokens. However, you requested")
        assert post(vllm, long, headers={}).json() == {"error": "Unauthorized"}
    with ScriptedLLM(lambda r: Reply(content="ok"), models={"claude-sonnet-4-5"}, api_key=KEY) as anthropic:
        huge = messages(messages=[{"role": "user", "content": "word " * 210_000}])
        refused = post(anthropic, huge, "/messages", ANTHROPIC)
        assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error"
        assert re.fullmatch(r"prompt is too long: \d+ tokens > 200000 maximum", refused.json()["error"]["message"])
        budget = messages(max_tokens=64_000, messages=[{"role": "user", "content": "word " * 150_000}])
        assert "exceed context limit" in post(anthropic, budget, "/messages", ANTHROPIC).json()["error"]["message"]
