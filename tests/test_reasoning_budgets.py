"""Reasoning models through the judge and the optimizer: the answer budget covers the hidden reasoning, a
cut reply is asked again with more room and never cached, and `context_size_k` is in tokens."""

import json
import warnings

import pandas as pd
import pytest

from cookbook.llm.client import LLMClient
from cookbook.llm.messages import messages_text
from cookbook.llm.tokens import count_message_tokens
from cookbook.scripted.server import Reply, ScriptedLLM
from cookbook.seams import Endpoint
from evaluate import evaluate_results
from optimizer import PromptLearningOptimizer

JUDGEMENT = {"correctness": "incorrect", "explanation": "It never ran the tests.", "improvement": "Run the tests."}
REASONING = 6_000  # what the scripted gpt-5 thinks before every answer


def reasoner(request: dict) -> Reply:
    """gpt-5 as the judge and the optimizer: 6,000 reasoning tokens, then the answer."""
    if (request.get("response_format") or {}).get("type") == "json_schema":
        return Reply(content=json.dumps(JUDGEMENT), reasoning_tokens=REASONING)
    return Reply(content="<ruleset>\n- Run the tests before finishing.\n</ruleset>", reasoning_tokens=REASONING)


@pytest.fixture
def gpt5():
    with ScriptedLLM(reasoner, models={"gpt-5"}) as server:
        yield server


def client(llm, tmp_path, model="gpt-5", **endpoint):
    return LLMClient(Endpoint(llm.base_url, "k", model, **endpoint), cache_dir=tmp_path / "cache", max_retries=0)


@pytest.fixture
def results(bundled):
    rows = bundled.head(3).assign(cline_patch="", pass_or_fail="fail", failed_tests=[[]] * 3, test_log="FAILED")
    return rows.assign(correctness="incorrect", explanation="e", improvement="i")


def test_a_model_that_reasons_6000_tokens_gets_its_ruleset_and_every_explanation(gpt5, results, tmp_path):
    judged = evaluate_results(results, client=client(gpt5, tmp_path), progress=False)
    assert judged["explanation"].eq(JUDGEMENT["explanation"]).all() and judged["judge_error"].eq("").all()
    assert judged["judge_reasoning_tokens"].eq(REASONING).all()
    assert (judged["judge_completion_tokens"] > REASONING).all()

    optimizer = PromptLearningOptimizer("You are a coding agent.", client=client(gpt5, tmp_path))
    new_ruleset = optimizer.optimize(
        judged, "cline_patch", ["correctness", "explanation", "improvement"], ruleset="", context_size_k=400000
    )
    assert new_ruleset == "- Run the tests before finishing.\n"
    call = optimizer.calls[0]
    assert not call.kept_previous and call.reasoning_tokens == REASONING and call.attempts == 1
    for request in gpt5.chat_requests():  # what a reasoning model accepts, with room for its reasoning
        assert request["max_completion_tokens"] == 32_000
        assert "max_tokens" not in request and "temperature" not in request and "reasoning_effort" not in request


def test_a_cut_reply_is_asked_again_with_more_room_and_only_the_answer_is_cached(gpt5, results, tmp_path):
    optimizer = PromptLearningOptimizer("p", client=client(gpt5, tmp_path), answer_tokens=3_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "keeping the previous ruleset"
        new = optimizer.optimize(results, "cline_patch", ["explanation"], ruleset="- old\n", context_size_k=400000)
    assert new == "- Run the tests before finishing.\n"
    budgets = [r["max_completion_tokens"] for r in gpt5.chat_requests()]
    assert budgets == [3_000, 6_000, 12_000]  # 6,000 reasoning tokens fill 3,000 and 6,000: cut twice
    call = optimizer.calls[0]
    assert call.attempts == 3 and call.reasoning_tokens == 3_000 + 6_000 + 6_000  # all three are billed
    # the same call again is served from the cache: the answer, under the first request's key
    again = PromptLearningOptimizer("p", client=client(gpt5, tmp_path), answer_tokens=3_000)
    assert again.optimize(results, "cline_patch", ["explanation"], ruleset="- old\n", context_size_k=400000) == new
    assert len(gpt5.chat_requests()) == 3


def test_a_reply_that_stays_cut_keeps_the_previous_ruleset_and_is_never_cached(results, tmp_path):
    endless = lambda request: Reply(content="<ruleset>\n- x\n</ruleset>", reasoning_tokens=500_000)  # noqa: E731
    with ScriptedLLM(endless, models={"gpt-5"}) as llm:
        for _ in range(2):
            optimizer = PromptLearningOptimizer("p", client=client(llm, tmp_path))
            with pytest.warns(UserWarning, match="cut at the output limit; keeping the previous ruleset"):
                assert optimizer.optimize(results, "cline_patch", ["explanation"], ruleset="- old\n") == "- old\n"
        budgets = [r["max_completion_tokens"] for r in llm.chat_requests()]
    assert budgets == [32_000, 64_000, 128_000] * 2  # up to gpt-5's output limit; asked again on the re-run


def test_reasoning_effort_is_sent_to_reasoning_models_only(tmp_path):
    data = pd.DataFrame([{"instance_id": "i", "problem_statement": "p", "cline_patch": "", "explanation": "e"}])
    reply = lambda request: Reply(content="<ruleset>\n- a\n</ruleset>")  # noqa: E731
    with ScriptedLLM(reply, models={"gpt-5", "gpt-4.1"}) as llm:  # gpt-4.1 would answer 400 to reasoning_effort
        for model in ("gpt-5", "gpt-4.1"):
            endpoint = Endpoint(llm.base_url, "k", model, reasoning_effort="high")
            PromptLearningOptimizer("p", endpoint=endpoint, cache=False).optimize(data, "cline_patch", ["explanation"])
        effort = {r["model"]: r.get("reasoning_effort") for r in llm.chat_requests()}
    assert effort == {"gpt-5": "high", "gpt-4.1": None}


def test_context_size_k_is_in_tokens_and_defaults_to_the_models_window(tmp_path):
    def budget(model, context_size_k=None):
        llm = Endpoint("http://127.0.0.1:9/v1", "k", model)
        return PromptLearningOptimizer("p", endpoint=llm, cache=False).budget(context_size_k)

    assert budget("gpt-5") == budget("gpt-5", 400000) == (272_000, 32_000)  # gpt-5's input limit is 272k
    assert budget("gpt-4.1") == (1_047_576 - 8_000, 8_000)
    assert budget("gpt-5", 8000) == (6_000, 2_000)  # the answer budget takes at most a quarter of the window
    with pytest.warns(UserWarning, match="over gpt-4o's window"):
        assert budget("gpt-4o", 400000) == (120_000, 8_000)
    assert budget("demo-model") == (120_000, 8_000)  # unknown models: 128k
    with pytest.raises(ValueError, match="looks like thousands of tokens.*context_size_k=128000"):
        budget("gpt-5", 128)


def test_sixty_large_rows_at_8000_tokens_are_sent_in_batches_none_over_8000(bundled, tmp_path):
    rows = [
        {
            "instance_id": f"row-{i}",
            "problem_statement": bundled.iloc[i % len(bundled)]["problem_statement"],
            "cline_patch": bundled.iloc[i % len(bundled)]["patch"] * 3,
            "explanation": f"Example {i}: the fix missed a case the tests cover. " * 5,
        }
        for i in range(60)
    ]
    with ScriptedLLM(reasoner, models={"gpt-5"}) as llm:
        optimizer = PromptLearningOptimizer("You are a coding agent.", client=client(llm, tmp_path))
        optimizer.optimize(pd.DataFrame(rows), "cline_patch", ["explanation"], ruleset="", context_size_k=8000)
        requests = llm.chat_requests()
    assert len(requests) >= 3 and sum(call.rows for call in optimizer.calls) == 60
    assert all(count_message_tokens(r["messages"], "gpt-5") <= 8_000 for r in requests)
    assert all("row-59" in messages_text(r, "user") for r in requests[-1:])
