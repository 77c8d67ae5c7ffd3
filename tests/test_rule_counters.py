"""Rules that earn their place: the judge's per-rule verdicts feed each rule's counters, a rule that never
helped is dropped after the configured loops, near-duplicates are merged, and the ruleset keeps to its cap."""

import json
import warnings

import pandas as pd
import pytest

from cookbook.llm.client import LLMClient
from cookbook.llm.messages import messages_text
from cookbook.llm.scripted_server import Reply, ScriptedLLM
from cookbook.rulesets import Rule, merge_near_duplicates, ruleset_tokens, similarity
from cookbook.seams import Endpoint
from evaluate import evaluate_results
from optimizer import PromptLearningOptimizer

RULESET = "- Run the failing test before editing.\n- Add a changelog entry for every edit.\n"


def judge_script(request):
    """r1 followed in passing runs, r2 broken in failing ones (each does not apply to the other kind)."""
    passed = "## Test result\nPASSED" in messages_text(request, "user")
    verdicts = [
        {"id": "r1", "verdict": "followed" if passed else "not_applicable", "evidence": "ran the test"},
        {"id": "r2", "verdict": "not_applicable" if passed else "broken", "evidence": "no changelog"},
    ]
    answer = {"correctness": "correct" if passed else "incorrect", "explanation": "e", "improvement": "i"}
    return Reply(content=json.dumps(answer | {"rules": verdicts}))


def results(bundled) -> pd.DataFrame:
    rows = bundled.head(4).to_dict("records")
    for i, row in enumerate(rows):
        row.update(cline_patch="", outcome="resolved" if i < 2 else "unresolved", failed_tests=[], test_log="")
        row["pass_or_fail"] = "pass" if i < 2 else "fail"
    return pd.DataFrame(rows)


def client(llm, tmp_path, cache=True):
    return LLMClient(Endpoint(llm.base_url, "k", "gpt-5"), cache=cache, cache_dir=tmp_path / "cache")


def test_verdicts_move_the_counters_and_a_rule_that_never_helped_is_dropped(bundled, tmp_path):
    with ScriptedLLM(judge_script, models={"gpt-5"}) as judge:
        judged = evaluate_results(results(bundled), client=client(judge, tmp_path), ruleset=RULESET, progress=False)
        request = judge.chat_requests()[0]
    schema = request["response_format"]["json_schema"]
    items = schema["schema"]["properties"]["rules"]["items"]
    assert schema["strict"] and items["properties"]["id"]["enum"] == ["r1", "r2"]
    assert set(items["required"]) == set(items["properties"]) and items["additionalProperties"] is False
    assert set(schema["schema"]["required"]) == set(schema["schema"]["properties"])
    assert "[r2] Add a changelog entry for every edit." in messages_text(request, "user")
    assert json.loads(judged.loc[0, "rule_verdicts"])[0] == {
        "id": "r1",
        "verdict": "followed",
        "evidence": "ran the test",
    }

    meta_prompts = []

    def optimizer_script(request):
        meta_prompts.append(messages_text(request, "user"))
        return Reply(content=json.dumps({"operations": [], "effects": [{"id": "r2", "effect": "helped"}]}))

    with ScriptedLLM(optimizer_script, models={"gpt-5"}) as llm:
        opt = PromptLearningOptimizer(
            "p", mode="delta", drop_unhelpful_after=2, client=client(llm, tmp_path, cache=False)
        )
        after_0 = opt.optimize(judged, "cline_patch", ["correctness", "explanation"], ruleset=RULESET)
        r1, r2 = opt.rules
        assert (r1.helped, r1.hurt, r1.not_applicable, r1.judged_loops) == (2, 0, 2, 1)
        assert (r2.helped, r2.broken_failed, r2.not_applicable, r2.judged_loops) == (0, 2, 2, 1)  # effects ignored
        assert after_0 == RULESET
        assert "[r1] Run the failing test before editing.\n    record: followed in passing runs 2," in meta_prompts[0]
        # the next loop runs the same ruleset, judged the same way: r2 has now never helped in 2 judged loops
        with pytest.warns(UserWarning, match="dropped r2: never helped in 2 judged loop"):
            after_1 = opt.optimize(judged, "cline_patch", ["correctness", "explanation"], ruleset=after_0)
    assert after_1 == "- Run the failing test before editing.\n"
    assert "[r2]" not in meta_prompts[1] and opt.rules[0].helped == 4
    assert opt.calls[-1].report[0].startswith("dropped r2")


def test_near_duplicates_merge_and_the_ruleset_keeps_to_its_token_cap(tmp_path):
    assert similarity("Run the failing tests before finishing.", "Always run the failing test before you finish") == 1.0
    assert similarity("Run the failing tests before finishing.", "Keep edits minimal.") == 0.0
    rules = [Rule("r1", "Run the failing tests before finishing.", helped=1), Rule("r2", "Keep edits minimal.")]
    rules.append(Rule("r3", "Always run the failing test before you finish", helped=2, sources=["t-9"]))
    assert merge_near_duplicates(rules) == ["merged r3 into r1 (word overlap 1.00)"]
    assert [(r.id, r.helped, r.sources) for r in rules] == [("r1", 3, ["t-9"]), ("r2", 0, [])]

    long_rule = "When the change touches parsing, " + "check every branch and every caller carefully, " * 20
    operations = [
        {"op": "add", "id": "", "text": "Run the failing tests before you finish.", "sources": []},
        {"op": "add", "id": "", "text": long_rule, "sources": []},
    ]
    data = pd.DataFrame([{"instance_id": "t", "problem_statement": "p", "cline_patch": "", "explanation": "e"}])
    with ScriptedLLM(
        lambda r: Reply(content=json.dumps({"operations": operations, "effects": []})), models={"gpt-5"}
    ) as llm:
        opt = PromptLearningOptimizer("p", mode="delta", max_ruleset_tokens=60, client=client(llm, tmp_path, False))
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            new = opt.optimize(
                data, "cline_patch", ["explanation"], ruleset="- Run the failing tests before finishing.\n"
            )
        request = llm.chat_requests()[0]
    assert "60 tokens (about 6000 characters)" in messages_text(request, "user")
    assert new == "- Run the failing tests before finishing.\n" and ruleset_tokens(new) <= 60
    assert opt.calls[0].report == ["added r2", "added r3", "merged r2 into r1 (word overlap 1.00)"] + [
        "dropped r3: the ruleset was over its cap (60 tokens, 6000 characters)"
    ]

    lines = "".join(f"- Rule number {i}: check the edge cases of every input you change.\n" for i in range(40))
    with ScriptedLLM(lambda r: Reply(content=f"<ruleset>\n{lines}</ruleset>"), models={"gpt-5"}) as llm:
        opt = PromptLearningOptimizer("p", max_ruleset_tokens=100, client=client(llm, tmp_path, False))
        with pytest.warns(UserWarning, match="max_ruleset_tokens=100"):
            new = opt.optimize(data, "cline_patch", ["explanation"], ruleset="")
        assert "At most 100 tokens" in messages_text(llm.chat_requests()[0], "user")
    assert 0 < ruleset_tokens(new) <= 100 and new.splitlines() == lines.splitlines()[: len(new.splitlines())]
