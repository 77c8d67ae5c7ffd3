"""Rules that earn their place: the judge's per-rule verdicts feed each rule's counters, a rule that never
helped is dropped after the configured loops, near-duplicates are merged, and the ruleset keeps to its cap."""

import json
import warnings

import pandas as pd
import pytest
from conftest import logged_requests, run_notebook

from cookbook.llm.client import LLMClient
from cookbook.llm.endpoints import provider_variables
from cookbook.llm.messages import messages_text, system_prompt
from cookbook.loop import run_paths
from cookbook.rulesets import Rule, merge_near_duplicates, ruleset_tokens, similarity
from cookbook.scripted.demo import DemoScript
from cookbook.scripted.server import Reply, ScriptedLLM
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


TWO_LINES = "Keep each change small.\nRun python -m pytest before you finish."  # a rule the optimizer wrapped
NOT_TESTS = "Do not edit the tests."


class WrappedRule:
    """The demo's models, but the optimizer's first delta adds a rule whose text holds a line break."""

    def __init__(self, instances):
        self.demo = DemoScript(instances)

    def __call__(self, request):
        if (request.get("response_format") or {}).get("json_schema", {}).get("name") != "ruleset_operations":
            return self.demo(request)
        first = "(no rules yet)" in messages_text(request, "user")
        adds = [{"op": "add", "id": "", "text": text, "sources": []} for text in (TWO_LINES, NOT_TESTS)]
        return Reply(content=json.dumps({"operations": adds if first else [], "effects": []}))


@pytest.mark.slow
def test_a_rule_with_a_line_break_is_one_rule_to_the_agent_the_judge_and_its_counters(
    bundled, run_name, monkeypatch, tmp_path
):
    """Delta mode through the notebook: the wrapped rule is one line in the agent's rules and in the judge's
    list, and the judge's verdict on it counts to it — not to the rule after it."""
    for name in [*provider_variables(), "AGENT_MODEL", "JUDGE_MODEL", "OPTIMIZER_MODEL"]:
        monkeypatch.delenv(name, raising=False)
    log = tmp_path / "requests.jsonl"
    with ScriptedLLM(WrappedRule(bundled.to_dict("records")), models={"gpt-4.1", "gpt-5"}, log_path=log) as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-t")
        parameters = dict(RUN_NAME=run_name, OPTIMIZER_MODE="delta", SELECTION="latest", LOOPS=2, PHOENIX=False)
        parameters |= dict(TRAIN_SIZE=2, TEST_SIZE=1)
        run_notebook(tmp_path / "out.ipynb", **parameters, WORKERS=3, AGENT_RUNS_DIR=str(tmp_path / "agent_runs"))
    requests = logged_requests(log)
    one_line = "Keep each change small. Run python -m pytest before you finish."
    agents = [r for r in requests if r.get("tools") and one_line in system_prompt(r)]
    assert agents and all(f"- {one_line}\n- {NOT_TESTS}" in system_prompt(r) for r in agents)  # loop 1's rules
    judged = [t for r in requests if "## The agent's rules\n" in (t := messages_text(r, "user")) and not r.get("tools")]
    assert judged and all(t.split("## The agent's rules\n")[1] == f"[r1] {one_line}\n[r2] {NOT_TESTS}" for t in judged)
    rules = {r["text"]: r for r in json.loads((run_paths(run_name)[0] / "rules_1.json").read_text())}
    assert set(rules) == {one_line, NOT_TESTS}
    tests_rule, other = rules[one_line], rules[NOT_TESTS]
    assert tests_rule["helped"] + tests_rule["hurt"] + tests_rule["broken_failed"] + tests_rule["broken_passed"] == 2
    assert (other["not_applicable"], other["helped"], other["hurt"], other["broken_failed"]) == (2, 0, 0, 0)
