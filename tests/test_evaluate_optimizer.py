"""The judge and the optimizer against the scripted OpenAI-compatible server."""

import json
import re
import warnings

import pandas as pd
import pytest

from cookbook.llm.client import LLMClient
from cookbook.llm.messages import messages_text
from cookbook.llm.tokens import count_message_tokens
from cookbook.scripted.server import Reply, ScriptedLLM
from cookbook.seams import Endpoint
from evaluate import evaluate_results
from optimizer import PromptLearningOptimizer, find_leaks, parse_rules, render_rules

MODELS = {"gpt-5"}  # what the scripted server serves: a reasoning model, as the judge's and optimizer's default
GOOD = json.dumps(
    {
        "correctness": "incorrect",
        "explanation": "The patch misses the edge case.",
        "improvement": "Run the tests that cover the changed function.",
    }
)


def client(llm, tmp_path, model="gpt-5", cache=True):
    endpoint = Endpoint(llm.base_url, "k", model)
    return LLMClient(endpoint, cache=cache, cache_dir=tmp_path / "llm_cache", max_retries=3)


@pytest.fixture
def results(bundled):
    rows = bundled.head(4).to_dict("records")
    for i, row in enumerate(rows):
        row["cline_patch"] = row["patch"] if i == 0 else ""
        row["pass_or_fail"] = "pass" if i == 0 else "fail"
        row["failed_tests"] = [] if i == 0 else row["FAIL_TO_PASS"]
        row["test_log"] = "x" * 10_000 + "\nFAILED the end of the log"
    return pd.DataFrame(rows)


def test_judge_sees_patch_and_failing_tests_and_follows_the_harness(results, tmp_path):
    with ScriptedLLM(lambda r: Reply(content=GOOD), models=MODELS) as llm:
        judged = evaluate_results(results, client=client(llm, tmp_path), progress=False)
        requests = llm.chat_requests()
    assert len(requests) == 4
    by_problem = {messages_text(r, "user").split("## Agent's patch")[0]: messages_text(r, "user") for r in requests}
    failing = results.iloc[1]
    text = next(t for k, t in by_problem.items() if failing["problem_statement"] in k)
    assert all(test in text for test in failing["FAIL_TO_PASS"])
    assert "FAILED the end of the log" in text and "x" * 3001 not in text  # a bounded tail of the log
    gold_text = next(t for k, t in by_problem.items() if results.iloc[0]["problem_statement"] in k)
    assert results.iloc[0]["cline_patch"] in gold_text
    assert requests[0]["response_format"]["type"] == "json_schema"
    # the harness is the ground truth: a pass stays correct even when the judge said incorrect
    assert judged["correctness"].tolist() == ["correct", "incorrect", "incorrect", "incorrect"]
    assert judged["judge_disagreed"].tolist() == [True, False, False, False]
    assert (judged["explanation"] == "The patch misses the edge case.").all()


def test_large_patches_are_cut_with_a_marker(results, tmp_path):
    results = results.copy()
    results.loc[0, "cline_patch"] = "+line\n" * 20_000
    with ScriptedLLM(lambda r: Reply(content=GOOD), models=MODELS) as llm:
        evaluate_results(results.head(1), client=client(llm, tmp_path), max_patch_chars=5_000, progress=False)
        text = messages_text(llm.chat_requests()[0], "user")
    assert "characters cut ...]" in text and len(text) < 40_000


def test_malformed_reply_is_retried_then_recorded_and_other_rows_are_intact(results, tmp_path):
    bad_instance = results.iloc[2]["problem_statement"]

    def script(request):
        return (
            Reply(content="not json at all") if bad_instance in messages_text(request, "user") else Reply(content=GOOD)
        )

    with ScriptedLLM(script, models=MODELS) as llm:
        judged = evaluate_results(results, client=client(llm, tmp_path), parse_retries=2, progress=False)
        asked_bad = [r for r in llm.chat_requests() if bad_instance in messages_text(r, "user")]
    assert len(asked_bad) == 3
    assert judged.iloc[2]["judge_error"].startswith("unparseable judge reply after 3 tries")
    assert judged.drop(index=2)["judge_error"].eq("").all()
    assert judged.drop(index=2)["explanation"].ne("").all()


def test_judge_rerun_is_free_and_a_429_is_retried(results, tmp_path):
    calls = {"n": 0}

    def script(request):
        calls["n"] += 1
        return Reply(status=429, content="slow down") if calls["n"] == 1 else Reply(content=GOOD)

    with ScriptedLLM(script, models=MODELS) as llm:
        first = evaluate_results(results, client=client(llm, tmp_path), concurrency=1, progress=False)
        assert first["judge_error"].eq("").all()
        made = len(llm.chat_requests())
        evaluate_results(results, client=client(llm, tmp_path), progress=False)
        assert len(llm.chat_requests()) == made == 5


def rewrite_reply(text):
    return Reply(content=f"Here is the new ruleset.\n<ruleset>\n{text}</ruleset>\nThanks.")


def big_dataset(bundled, n=150):
    rows = []
    for i in range(n):
        inst = bundled.iloc[i % len(bundled)]
        rows.append(
            {
                "instance_id": f"{inst['instance_id']}#{i}",
                "problem_statement": inst["problem_statement"],
                "cline_patch": inst["patch"] * 3,
                "correctness": "incorrect",
                "explanation": f"Example {i}: the fix missed a case the tests cover. " * 5,
            }
        )
    return pd.DataFrame(rows)


def test_batches_fit_the_context_window_and_refine_in_order(bundled, tmp_path):
    data = big_dataset(bundled, 60)
    seen_rulesets = []

    def script(request):
        text = messages_text(request, "user")
        seen_rulesets.append(text.split("## The current ruleset\n")[1].split("\n\n## Examples")[0])
        return rewrite_reply(f"- rule from batch {len(seen_rulesets)}\n")

    with ScriptedLLM(script, models=MODELS) as llm:
        opt = PromptLearningOptimizer("You are a coding agent.", client=client(llm, tmp_path, cache=False))
        new = opt.optimize(
            data, "cline_patch", ["correctness", "explanation"], ruleset="- start\n", context_size_k=8000
        )
        requests = llm.chat_requests()
    assert len(requests) >= 3
    for request, call in zip(requests, opt.calls, strict=True):
        # the request and the answer budget it asked for fit the window together, by tiktoken's count
        assert count_message_tokens(request["messages"], "gpt-5") + request["max_completion_tokens"] <= 8_000
        assert request["max_completion_tokens"] == call.answer_tokens > 0
    assert seen_rulesets[0] == "- start" and seen_rulesets[1] == "- rule from batch 1"
    assert new == f"- rule from batch {len(requests)}\n"
    assert sum(call.rows for call in opt.calls) == 60


def test_a_row_too_large_for_a_batch_is_shortened_not_sent_over_budget(bundled, tmp_path):
    data = big_dataset(bundled, 2)
    data.loc[0, "cline_patch"] = "+ huge line of code\n" * 20_000
    with ScriptedLLM(lambda r: rewrite_reply("- ok\n"), models=MODELS) as llm:
        opt = PromptLearningOptimizer("p", client=client(llm, tmp_path, cache=False))
        opt.optimize(data, "cline_patch", ["explanation"], ruleset="", context_size_k=8000)
        requests = llm.chat_requests()
    assert all(count_message_tokens(r["messages"], "gpt-5") + r["max_completion_tokens"] <= 8_000 for r in requests)
    assert "shortened to fit the context window" in messages_text(requests[0], "user")


def test_braces_in_patches_arrive_unchanged(tmp_path):
    patch = "+def f(x):\n+    return {'a': {x}} if '{y}' else f'{x!r}{{}}'\n"
    data = pd.DataFrame(
        [
            {
                "instance_id": "i1",
                "problem_statement": "Fix {placeholder} handling",
                "cline_patch": patch,
                "explanation": "uses {braces}",
            }
        ]
    )
    with ScriptedLLM(lambda r: rewrite_reply("- ok\n"), models=MODELS) as llm:
        PromptLearningOptimizer("baseline {not_a_var}", client=client(llm, tmp_path)).optimize(
            data, "cline_patch", ["explanation"], ruleset="- keep {this}\n"
        )
        text = messages_text(llm.chat_requests()[0], "user")
    assert patch in text and "Fix {placeholder} handling" in text and "uses {braces}" in text
    assert "baseline {not_a_var}" in text and "- keep {this}" in text


@pytest.mark.parametrize("reply", ["", "<ruleset>\n   \n</ruleset>", "Sorry, I cannot help.", "<ruleset>\n- cut off"])
def test_an_empty_or_unparseable_reply_keeps_the_old_ruleset(tmp_path, reply):
    data = pd.DataFrame([{"instance_id": "i1", "problem_statement": "p", "cline_patch": "", "explanation": "e"}])
    with ScriptedLLM(lambda r: Reply(content=reply), models=MODELS) as llm:
        opt = PromptLearningOptimizer("p", client=client(llm, tmp_path, cache=False))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            new = opt.optimize(data, "cline_patch", ["explanation"], ruleset="- old rule\n")
    assert new == "- old rule\n"
    assert opt.calls[0].kept_previous and opt.calls[0].warning
    assert any("keeping the previous ruleset" in str(w.message) for w in caught)


def test_the_ruleset_is_the_text_between_the_delimiters_and_calls_are_recorded(tmp_path):
    data = pd.DataFrame([{"instance_id": "i1", "problem_statement": "p", "cline_patch": "", "explanation": "e"}])
    with ScriptedLLM(
        lambda r: Reply(content="Thinking...\n<ruleset>\n- a\n- b\n</ruleset>\nDone."), models=MODELS
    ) as llm:
        opt = PromptLearningOptimizer("p", client=client(llm, tmp_path))
        assert opt.optimize(data, "cline_patch", ["explanation"], ruleset="") == "- a\n- b\n"
    call = opt.calls[0]
    assert call.meta_prompt.startswith("You improve the working rules") and "Thinking..." in call.reply
    assert call.prompt_tokens > 0 and call.completion_tokens > 0 and call.rows == 1


def test_prompt_mode_keeps_template_variables(tmp_path):
    data = pd.DataFrame([{"instance_id": "i1", "problem_statement": "p", "cline_patch": "", "explanation": "e"}])
    prompt = "Fix the issue: {problem_statement}\nRepository: {repo}\n"
    replies = iter(
        [
            "<ruleset>Better. Issue: {problem_statement}\n</ruleset>",
            "<ruleset>Better. Issue: {problem_statement} in {repo}\n</ruleset>",
        ]
    )
    with ScriptedLLM(lambda r: Reply(content=next(replies)), models=MODELS) as llm:
        opt = PromptLearningOptimizer(prompt, client=client(llm, tmp_path, cache=False))
        with pytest.warns(UserWarning, match="lost template variable"):
            assert opt.optimize(data, "cline_patch", ["explanation"], ruleset=None) == prompt
        assert "{repo}" in messages_text(llm.chat_requests()[0], "user")
        opt.prompt = prompt
        assert opt.optimize(data, "cline_patch", ["explanation"]) == "Better. Issue: {problem_statement} in {repo}\n"


def delta_reply(operations, effects=()):
    return Reply(content=json.dumps({"operations": operations, "effects": list(effects)}))


def test_delta_mode_add_edit_remove_and_untouched_rules_kept_verbatim(tmp_path):
    data = pd.DataFrame(
        [
            {"instance_id": "task-1", "problem_statement": "p", "cline_patch": "", "explanation": "e"},
            {"instance_id": "task-2", "problem_statement": "q", "cline_patch": "", "explanation": "f"},
        ]
    )
    start = "- Read the failing test before editing.\n- Keep changes minimal; do not reformat code.\n- Run the tests.\n"
    script = iter(
        [
            delta_reply(
                [
                    {"op": "add", "id": "", "text": "Check edge cases such as empty input.", "sources": ["task-2"]},
                    {"op": "edit", "id": "r3", "text": "Run the tests of the changed module.", "sources": []},
                    {"op": "remove", "id": "r99", "text": "", "sources": []},
                ],
                [{"id": "r1", "effect": "helped"}, {"id": "r3", "effect": "hurt"}],
            ),
        ]
    )
    with ScriptedLLM(lambda r: next(script), models=MODELS) as llm:
        opt = PromptLearningOptimizer("p", mode="delta", loop=2, client=client(llm, tmp_path, cache=False))
        with pytest.warns(UserWarning, match="unknown rule 'r99'"):
            new = opt.optimize(data, "cline_patch", ["explanation"], ruleset=start)
        request = llm.chat_requests()[0]
    assert "[r1] Read the failing test before editing." in messages_text(request, "user")
    assert request["response_format"]["json_schema"]["name"] == "ruleset_operations"
    assert new.splitlines() == [
        "- Read the failing test before editing.",
        "- Keep changes minimal; do not reformat code.",
        "- Run the tests of the changed module.",
        "- Check edge cases such as empty input.",
    ]
    added = opt.rules[-1]
    assert (added.id, added.loop, added.sources) == ("r4", 2, ["task-2"])
    assert (opt.rules[0].helped, opt.rules[2].hurt) == (1, 1)
    assert opt.calls[0].report == ["added r4", "edited r3", "ignored remove of unknown rule 'r99'"]
    opt.save_rules(tmp_path / "rules.json")
    reloaded = PromptLearningOptimizer("p", mode="delta", client=opt.client)
    assert reloaded.load_rules(tmp_path / "rules.json") == new
    assert reloaded.rules[-1].sources == ["task-2"]


def test_delta_mode_remove_and_an_unparseable_reply(tmp_path):
    data = pd.DataFrame([{"instance_id": "t", "problem_statement": "p", "cline_patch": "", "explanation": "e"}])
    replies = iter([delta_reply([{"op": "remove", "id": "r1", "text": "", "sources": []}]), Reply(content="{oops")])
    with ScriptedLLM(lambda r: next(replies), models=MODELS) as llm:
        opt = PromptLearningOptimizer("p", mode="delta", client=client(llm, tmp_path, cache=False))
        after = opt.optimize(data, "cline_patch", ["explanation"], ruleset="- one\n- two\n")
        assert after == "- two\n"
        with pytest.warns(UserWarning, match="unparseable operations"):
            assert opt.optimize(data, "cline_patch", ["explanation"], ruleset=after) == after
    assert [r.id for r in opt.rules] == ["r2"]  # ids are stable across calls


def test_parse_and_render_rules_round_trip():
    rules = parse_rules("1. First rule\n* second rule\n\n- third\n")
    assert [r.text for r in rules] == ["First rule", "second rule", "third"]
    assert render_rules(rules) == "- First rule\n- second rule\n- third\n"


def test_leakage_check_lists_rules_naming_one_training_task(bundled):
    train = bundled.head(6)
    inst = train.iloc[0]
    from cookbook.grading import patched_files

    path = patched_files(inst["patch"])[0]
    functions = re.findall(r"def ([A-Za-z_][A-Za-z0-9_]{3,})", inst["patch"])
    ruleset = f"- Always run the tests before finishing.\n- When editing {path}, check imports.\n" + (
        f"- Be careful with {functions[0]}.\n" if functions else ""
    )
    leaks = find_leaks(ruleset, train)
    assert "Always run the tests" not in " ".join(leaks["rule"])
    assert ((leaks["kind"] == "file") & (leaks["term"] == path) & (leaks["instance_id"] == inst["instance_id"])).any()
    repo_leak = find_leaks(f"- In {inst['repo']} use tabs.\n", train)
    assert (repo_leak["kind"] == "repository").any()


def test_a_rule_that_mentions_the_closing_tag_is_kept_whole(tmp_path):
    reply = "<ruleset>\n- Never print </ruleset> in output.\n- Run the tests.\n</ruleset>"
    with ScriptedLLM(lambda r: Reply(content=reply), models=MODELS) as llm:
        opt = PromptLearningOptimizer("p", client=client(llm, tmp_path, cache=False))
        with pytest.warns(UserWarning, match="more than once"):
            data = pd.DataFrame(
                [{"instance_id": "i1", "problem_statement": "p", "cline_patch": "", "explanation": "e"}]
            )
            new = opt.optimize(data, "cline_patch", ["explanation"], ruleset="- old rule\n")
    assert new == "- Never print </ruleset> in output.\n- Run the tests.\n"


def test_infrastructure_errors_are_neither_judged_nor_learned_from(results, tmp_path):
    rows = results.assign(outcome=["resolved", "error", "unresolved", "error"])
    rows.loc[rows["outcome"] == "error", "pass_or_fail"] = ""
    with ScriptedLLM(lambda r: Reply(content=GOOD), models=MODELS) as llm:
        judged = evaluate_results(rows, client=client(llm, tmp_path), progress=False)
        assert len(llm.chat_requests()) == 2
        opt = PromptLearningOptimizer("p", client=client(llm, tmp_path, cache=False))
        opt.optimize(judged, "cline_patch", ["correctness", "explanation"], ruleset="")
        meta_prompt = messages_text(llm.chat_requests()[-1], "user")
    assert judged.loc[rows["outcome"] == "error", "correctness"].tolist() == ["", ""]
    for inst, outcome in zip(rows["instance_id"], rows["outcome"], strict=True):
        assert (f"### Example {inst}" in meta_prompt) == (outcome != "error")
