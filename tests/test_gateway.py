"""The recording gateway against strict scripted upstreams: each upstream's own auth header, provider 429s
waited out and never counted toward a run's cap, usage with cached tokens, transcripts that grow linearly."""

import json
import subprocess
import threading
from collections import Counter

import httpx
import pytest

from cookbook.llm.gateway import Gateway
from cookbook.llm.prices import cost_usd
from cookbook.llm.transcripts import conversation, requests
from cookbook.llm.usage import Usage
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, turn
from cookbook.seams import Endpoint
from run_act import run_act

AGENT_HEADERS = {"Authorization": "Bearer via-gateway", "x-api-key": "via-gateway", "anthropic-version": "2023-06-01"}


def chat(content="hi", **extra):
    return {"model": "gpt-4.1", "messages": [{"role": "user", "content": content}], **extra}


def test_each_upstream_gets_its_own_auth_header_with_the_real_key_only(tmp_path):
    reply = Reply(
        content="ok", prompt_tokens=10_000, cached_tokens=6_000, cache_write_tokens=2_000, completion_tokens=1_000
    )
    with (
        ScriptedLLM(lambda r: reply, models={"gpt-4.1"}, api_key="sk-openai") as openai_llm,
        ScriptedLLM(lambda r: reply, models={"claude-sonnet-4-5"}, api_key="sk-ant") as anthropic_llm,
        Gateway(Endpoint(openai_llm.base_url, "sk-openai", "gpt-4.1")) as to_openai,
        Gateway(Endpoint(anthropic_llm.base_url, "sk-ant", "claude-sonnet-4-5", "anthropic")) as to_anthropic,
    ):
        url = to_openai.register("o", tmp_path / "o.jsonl")
        assert httpx.post(f"{url}/chat/completions", json=chat(), headers=AGENT_HEADERS).status_code == 200
        url = to_anthropic.register("a", tmp_path / "a.jsonl")
        body = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": True, "messages": chat()["messages"]}
        streamed = httpx.post(f"{url}/messages", json=body, headers=AGENT_HEADERS)
        assert streamed.status_code == 200 and "event: ping" in streamed.text
        stats = to_anthropic.finish("a")
        assert [r["auth"] for r in openai_llm.requests] == [["authorization"]]
        assert [r["auth"] for r in anthropic_llm.requests] == [["x-api-key"]]
    # Anthropic's usage, read from the stream: the prompt is input + cache writes + cache reads
    assert (stats.prompt_tokens, stats.cached_tokens, stats.cache_write_tokens, stats.completion_tokens) == (
        10_000,
        6_000,
        2_000,
        1_000,
    )
    usage = Usage(stats.prompt_tokens, stats.completion_tokens, stats.cached_tokens, stats.cache_write_tokens)
    hand = (2_000 * 3.0 + 2_000 * 3.75 + 6_000 * 0.30 + 1_000 * 15.0) / 1e6
    assert cost_usd("claude-sonnet-4-5", usage) == pytest.approx(hand, abs=1e-12)
    transcript = (tmp_path / "a.jsonl").read_text()
    assert "sk-ant" not in transcript and "via-gateway" not in transcript


class RateLimited:
    """Answers 429 (Retry-After 0.1 s) to the first `times` tries of each distinct request, then the script."""

    def __init__(self, script, times=2, **error):
        self.script, self.times, self.error, self.seen = script, times, error, Counter()
        self.lock = threading.Lock()

    def __call__(self, request):
        key = json.dumps(request.get("messages"), sort_keys=True)
        with self.lock:
            self.seen[key] += 1
            tries = self.seen[key]
        if tries <= self.times:
            return Reply(status=429, content="Rate limit reached for requests", retry_after=0.1, **self.error)
        return self.script(request)


def test_429s_are_waited_out_at_the_gateway_and_never_count_toward_the_cap(tmp_path):
    with (
        ScriptedLLM(RateLimited(lambda r: Reply(content="ok")), models={"gpt-4.1"}) as llm,
        Gateway(Endpoint(llm.base_url, "k", "gpt-4.1")) as gateway,
    ):
        url = gateway.register("run", tmp_path / "t.jsonl", max_requests=2)
        answers = [httpx.post(f"{url}/chat/completions", json=chat(f"q{i}"), timeout=30) for i in range(2)]
        stats = gateway.finish("run")
        sent = len(llm.requests)
    assert [a.status_code for a in answers] == [200, 200] and sent == 6
    assert (stats.llm_calls, stats.refused, stats.rate_limited) == (2, 0, 4)
    entries = requests(tmp_path / "t.jsonl")
    assert [e["retries_429"] for e in entries] == [2, 2] and all(e["retry_wait_s"] >= 0.2 for e in entries)


def test_a_429_that_outlasts_the_retries_is_passed_on_uncounted_and_quota_is_not_retried(tmp_path):
    always = RateLimited(lambda r: Reply(content="ok"), times=10**6)
    quota = RateLimited(lambda r: Reply(content="ok"), times=10**6, error_code="insufficient_quota")
    for script, expected_tries in ((always, 3), (quota, 1)):
        with (
            ScriptedLLM(script, models={"gpt-4.1"}) as llm,
            Gateway(Endpoint(llm.base_url, "k", "gpt-4.1"), retries_429=2) as gateway,
        ):
            url = gateway.register("run", tmp_path / "t.jsonl", max_requests=1)
            for _ in range(3):  # the agent's own retries are admitted: a 429 is not a call
                assert httpx.post(f"{url}/chat/completions", json=chat(), timeout=30).status_code == 429
            stats = gateway.finish("run")
            assert len(llm.requests) == 3 * expected_tries
        assert (stats.llm_calls, stats.refused, stats.rate_limited) == (0, 0, 3 * expected_tries)


def agent_turn(messages: list, n: int) -> list:
    """The next request of a growing agent conversation: the model's tool call and its ~1 kB result."""
    return [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [{"id": f"c{n}", "type": "function", "function": {}}]},
        {"role": "tool", "tool_call_id": f"c{n}", "content": f"output of step {n}\n" + "x" * 1_000},
    ]


def test_transcript_bytes_grow_linearly_and_the_conversation_is_rebuilt(tmp_path):
    system = {"role": "system", "content": "You are an agent. " + "rules " * 4_000}  # ~24 kB, sent every time
    tools = [{"type": "function", "function": {"name": f"tool{i}", "description": "d" * 400}} for i in range(20)]
    sent, sizes = [], []
    reply = Reply(tool_calls=[ToolCall("read_file", {"path": "a.py"})])
    with (
        ScriptedLLM(lambda r: reply, models={"gpt-4.1"}) as llm,
        Gateway(Endpoint(llm.base_url, "k", "gpt-4.1")) as gateway,
    ):
        url = gateway.register("run", tmp_path / "t.jsonl")
        messages = [system, {"role": "user", "content": "Fix the bug in a.py"}]
        for n in range(40):
            if n % 10 == 5:  # a side request (a title, a summary) between two turns of the conversation
                side = {"model": "gpt-4.1", "messages": [system, {"role": "user", "content": "title?"}], "tools": tools}
                httpx.post(f"{url}/chat/completions", json=side, timeout=30)
                sent.append(side)
            body = {"model": "gpt-4.1", "messages": messages, "tools": tools, "stream": True}
            httpx.post(f"{url}/chat/completions", json=body, timeout=30)
            sent.append(body)
            sizes.append((tmp_path / "t.jsonl").stat().st_size)
            messages = agent_turn(messages, n)
    growth = [b - a for a, b in zip(sizes, sizes[1:], strict=False)]
    whole = sum(len(json.dumps(body)) for body in sent)  # what storing every body whole would take
    assert max(growth[10:]) < 1.5 * min(growth[10:])  # each request adds about the same: linear growth
    assert sizes[-1] < whole / 8
    rebuilt = requests(tmp_path / "t.jsonl")
    assert [e["request"] for e in rebuilt] == sent  # every request, whole again
    assert all(e["request"]["model"] == "gpt-4.1" and e["status"] == 200 and "usage" in e for e in rebuilt)
    assert conversation(tmp_path / "t.jsonl") == [
        *sent[-1]["messages"],
        {"role": "assistant", "content": "", "tool_calls": [{"name": "read_file", "arguments": '{"path": "a.py"}'}]},
    ]


@pytest.mark.slow
def test_a_run_whose_agents_met_429s_completes_and_no_run_is_stopped_at_the_cap(bundled, tmp_path):
    instances = bundled.to_dict("records")

    def gold(request):
        inst = task_of(request, instances)
        if turn(request) == 0:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
        return Reply(content="I fixed the bug.")

    ids = [instances[0]["instance_id"], instances[3]["instance_id"]]
    with ScriptedLLM(RateLimited(gold, times=2), models={"scripted-model"}) as llm:
        endpoint = Endpoint(llm.base_url, "k", "scripted-model")
        df = run_act(
            "bundled", ids, "429s", "", workers=2, endpoint=endpoint, max_requests=2, runs_dir=tmp_path, progress=False
        )
    assert df["outcome"].tolist() == ["resolved", "resolved"], df["error"].tolist()
    assert not df["error"].str.contains("request cap").any() and df["llm_calls"].tolist() == [2, 2]
    assert len(llm.requests) == 12  # every request of both runs met two 429s first


def test_the_gateway_serves_only_its_roles_model_api_to_runs_it_knows(tmp_path):
    """Another path, a path escaping /v1, another method or a made-up run: 403, counted, and the upstream
    receives nothing. The model list is a GET of its run: answered, capped with the model calls, noted."""
    reply = Reply(content="ok")
    with (
        ScriptedLLM(lambda r: reply, models={"gpt-4.1"}, api_key="sk-real") as llm,
        Gateway(Endpoint(llm.base_url, "sk-real", "gpt-4.1"), retries_429=0) as gateway,
    ):
        url = gateway.register("run", tmp_path / "t.jsonl", max_requests=3)
        other = gateway.register("other", tmp_path / "o.jsonl")
        root = url.split("/runs/")[0]
        token = url.split("/runs/")[1].split("/")[0]
        assert len(token) >= 32 and token not in other  # each run its own unguessable token
        probes = [
            ("GET", f"{url}/files"),
            ("POST", f"{url}/files"),
            ("POST", f"{url}/messages"),  # Anthropic's API through an OpenAI endpoint's gateway
            ("DELETE", f"{url}/models/gpt-4.1"),
            ("POST", f"{root}/runs/bogus/v1/chat/completions"),
            ("GET", f"{root}/runs/bogus/v1/models"),
            ("POST", f"{url}/../../admin/secret"),
            ("GET", f"{url}/%2e%2e/%2e%2e/admin/secret"),
            ("POST", f"{root}/v1/chat/completions"),
        ]
        with httpx.Client(headers=AGENT_HEADERS) as client:
            for method, target in probes:
                answer = client.send(client.build_request(method, httpx.URL(target), json=chat()))
                assert answer.status_code == 403, (method, target, answer.text)
            curl = "curl -s -o /dev/null -w %{http_code} --path-as-is -X POST -d {}".split()  # no URL clean-up
            escaped = subprocess.run([*curl, f"{url}/../../admin/secret"], capture_output=True, text=True).stdout
            assert escaped == "403"
            assert llm.received == []  # nothing of it reached the upstream
            listed = client.get(f"{url}/models")
            assert listed.status_code == 200 and listed.json()["data"][0]["id"] == "gpt-4.1"
            assert client.post(f"{url}/chat/completions", json=chat()).status_code == 200
            assert client.get(f"{url}/models/gpt-4.1").status_code == 200
            capped = client.get(f"{url}/models")  # the run's fourth request: over its cap of 3
        stats = gateway.finish("run")
    assert capped.status_code == 400 and "request cap of 3" in capped.text
    assert llm.received == ["GET /v1/models", "POST /v1/chat/completions", "GET /v1/models/gpt-4.1"]
    assert (stats.llm_calls, stats.side_requests, stats.refused) == (1, 2, 1)
    assert stats.forbidden == 6 and gateway.forbidden == len(probes) + 1  # the run's own, and those naming none
    assert stats.noted[:2] == ["403 GET /files", "403 POST /files"] and "GET /models 200" in stats.noted
    assert [e["path"] for e in requests(tmp_path / "t.jsonl")] == ["/chat/completions"]
