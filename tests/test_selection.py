"""Candidate selection: every ruleset a loop ran is a candidate scored by that loop; the policy picks the one
the next ruleset grows from (latest, best, pareto), and the run writes the choice to the ruleset file."""

import json

import pandas as pd
import pytest
from conftest import run_notebook

from cookbook.llm.client import LLMClient
from cookbook.llm.endpoints import provider_variables
from cookbook.llm.messages import messages_text, system_prompt
from cookbook.loop import LoopConfig, OptimizationRun, read_ruleset_file, run_paths
from cookbook.loop.selection import Best, Candidate, Latest, Pareto, make_selection, pareto_front
from cookbook.scripted.server import Reply, ScriptedLLM, patch_as_tool_calls, task_of, turn
from cookbook.seams import Endpoint
from optimizer import PromptLearningOptimizer


def rows(passes: dict[str, bool], **extra) -> pd.DataFrame:
    """Result rows as run_act and evaluate_results write them (the columns the loop reads)."""
    records = []
    for iid, passed in passes.items():
        records.append(
            {
                "instance_id": iid,
                "problem_statement": f"Issue of {iid}",
                "cline_patch": "",
                "outcome": "resolved" if passed else "unresolved",
                "pass_or_fail": "pass" if passed else "fail",
                "correctness": "correct" if passed else "incorrect",
                "explanation": extra.get("explanation", ""),
                "improvement": "",
                "llm_calls": 2,
                "prompt_tokens": 100,
                "completion_tokens": 10,
                "cost_usd": None,
                "judge_prompt_tokens": 50,
                "judge_completion_tokens": 5,
                "judge_cost_usd": None,
                "ruleset_sha": "x",
            }
        )
    return pd.DataFrame(records)


def candidate(loop, validation, train=None):
    results = {"validation": rows(validation), "train": rows(train or {"t": True})}
    return Candidate(loop, f"- rule of loop {loop}\n", results)


def test_latest_and_best_choose_on_validation_and_ties_go_to_the_earlier_loop():
    candidates = [
        candidate(0, {"a": True, "b": False}, {"t": False}),
        candidate(1, {"a": False, "b": False}, {"t": True}),  # better on train, worse on validation
        candidate(2, {"a": True, "b": False}),  # ties loop 0 on validation
    ]
    assert Latest()(candidates, 2).parent == 2
    best = Best()(candidates, 2)
    assert (best.parent, best.on, best.scores) == (0, "validation", {0: 0.5, 1: 0.0, 2: 0.5})
    # without a validation split, train decides
    no_validation = [Candidate(c.loop, c.ruleset, {"train": c.train}) for c in candidates]
    assert Best()(no_validation, 2).parent == 1


def test_pareto_draws_only_front_members_weighted_and_seeded():
    candidates = [
        candidate(0, {"a": True, "b": False, "c": False, "d": False}),
        candidate(1, {"a": False, "b": True, "c": False, "d": False}),
        candidate(2, {"a": False, "b": False, "c": False, "d": False}),  # on fronts only where others are too
        candidate(3, {"a": True, "b": False, "c": False, "d": False}),  # the same as loop 0: dominated by it
    ]
    assert pareto_front(candidates, "validation") == {0: 3, 1: 3}
    draws = [Pareto(seed)(candidates, loop).parent for seed in range(10) for loop in range(5)]
    assert set(draws) == {0, 1}  # never 2 or 3, and both front members are drawn
    assert Pareto(7)(candidates, 3).parent == Pareto(7)(candidates, 3).parent  # the same draw when run again
    choice = Pareto(7)(candidates, 3)
    assert choice.front == {0: 3, 1: 3} and choice.policy == "pareto"
    with pytest.raises(ValueError, match="selection must be one of"):
        make_selection("greedy")


@pytest.fixture
def optimizer_server():
    """A scripted optimizer that records the current ruleset and examples of each meta-prompt it receives."""
    seen = []

    def script(request):
        text = messages_text(request, "user")
        seen.append(text)
        return Reply(content=f"<ruleset>\n- rule learned in call {len(seen)}\n</ruleset>")

    with ScriptedLLM(script, models={"gpt-5"}) as llm:
        yield llm, seen


def make_run(tmp_path, selection, mode="rewrite"):
    config = LoopConfig(
        run_name=f"sel-{selection}-{mode}",
        train_size=5,
        validation_size=2,
        test_size=0,
        loops=3,
        selection=selection,
        optimizer_mode=mode,
        phoenix=False,
    )
    run = OptimizationRun(config, tmp_path / "act_results", tmp_path / "act_rulesets")
    run.begin()
    return run


def loop_results(run, validation_pass: bool, train_pass: bool, explanation: str) -> dict:
    return {
        "train": rows(dict.fromkeys(run.ids("train"), train_pass), explanation=explanation),
        "validation": rows(dict.fromkeys(run.ids("validation"), validation_pass)),
    }


def one_loop(run, optimizer, loop, ruleset, validation_pass, train_pass):
    optimizer.loop = loop
    results = run.save_results(loop, **loop_results(run, validation_pass, train_pass, f"feedback of loop {loop}"))
    parent = run.select(loop, ruleset, results, optimizer)
    new = optimizer.optimize(parent.train, "cline_patch", ["correctness", "explanation"], ruleset=parent.ruleset)
    return parent, run.save_loop(loop, ruleset, new, results, optimizer)


@pytest.mark.parametrize("selection", ["best", "latest"])
def test_a_rewrite_worse_on_validation_is_not_grown_from_under_best(tmp_path, optimizer_server, selection):
    llm, seen = optimizer_server
    run = make_run(tmp_path, selection)
    client = LLMClient(Endpoint(llm.base_url, "k", "gpt-5"), cache=False)
    optimizer = PromptLearningOptimizer("base prompt", client=client, **run.optimizer_options())
    _, learned = one_loop(run, optimizer, 0, "", validation_pass=True, train_pass=False)
    # loop 1 runs the learned ruleset: better on train, worse on validation than the empty one
    parent, _ = one_loop(run, optimizer, 1, learned, validation_pass=False, train_pass=True)

    expected = 0 if selection == "best" else 1
    assert parent.loop == expected
    meta_prompt = seen[-1]  # loop 1's optimizer call grew the next ruleset from the parent, with its own feedback
    current = meta_prompt.split("## The current ruleset\n")[1].split("\n\n## Examples")[0]
    if selection == "best":  # the earlier candidate, and what was already grown from it (so not the same request)
        assert current == (
            "(empty: no ruleset yet)\n\n## Rulesets already grown from this one, and how they did (write a "
            "different, better one)\n### tried in loop 1: validation 0.000 (this one: 1.000)\n- rule learned in call 1"
        )
    else:
        assert current == learned.strip()
    assert f"feedback of loop {expected}" in meta_prompt and f"feedback of loop {1 - expected}" not in meta_prompt

    path = run.rulesets_dir / "ruleset_1.txt"
    header = path.read_text().split("optimized ruleset_1:")[0].splitlines()
    assert f"selection: {selection} (on validation)" in header and f"grown_from: loop {expected}" in header
    assert "candidate_0: validation 1.0000" in header and "candidate_1: validation 0.0000" in header
    assert any(line.startswith("ruleset_tokens: ") for line in header)
    train_accuracy, _, ruleset_1 = read_ruleset_file(path)  # the cookbook's reader still reads it
    assert train_accuracy == 1.0 and ruleset_1 == "- rule learned in call 2\n"

    # a resumed run reads the loops back and scores the same candidates from their files
    again = OptimizationRun(run.config, tmp_path / "act_results", tmp_path / "act_rulesets")
    for loop in (0, 1):
        again.read_back(loop, optimizer)
    assert [c.loop for c in again.candidates(2, ruleset_1, loop_results(run, True, True, ""))] == [0, 1, 2]
    assert again.history["grown_from"].tolist() == [0, expected]
    assert json.loads((run.dir / "loop_1.json").read_text())["ruleset_tokens"] > 0


def test_delta_mode_grows_from_the_chosen_candidates_rules(tmp_path):
    replies = iter(
        [
            {"operations": [{"op": "add", "id": "", "text": "Rule from loop 0.", "sources": []}], "effects": []},
            {"operations": [{"op": "add", "id": "", "text": "Rule from loop 1.", "sources": []}], "effects": []},
        ]
    )
    with ScriptedLLM(lambda r: Reply(content=json.dumps(next(replies))), models={"gpt-5"}) as llm:
        run = make_run(tmp_path, "best", mode="delta")
        client = LLMClient(Endpoint(llm.base_url, "k", "gpt-5"), cache=False)
        optimizer = PromptLearningOptimizer("base prompt", client=client, **run.optimizer_options())
        _, learned = one_loop(run, optimizer, 0, "", validation_pass=False, train_pass=False)
        assert learned == "- Rule from loop 0.\n"
        _, learned_1 = one_loop(run, optimizer, 1, learned, validation_pass=True, train_pass=True)
    assert learned_1 == "- Rule from loop 0.\n- Rule from loop 1.\n"  # grown from loop 1: the better one
    assert [r.id for r in optimizer.rules] == ["r1", "r2"]


def attempts(outcomes: dict[str, list[str]]) -> pd.DataFrame:
    """Rows with several attempts per instance: "pass", "fail" or "error" (an infrastructure error)."""
    records = []
    for iid, results in outcomes.items():
        for attempt, result in enumerate(results):
            outcome = {"pass": "resolved", "fail": "unresolved", "error": "error"}[result]
            record = rows({iid: result == "pass"}).iloc[0].to_dict() | {"attempt": attempt, "outcome": outcome}
            records.append(record | ({"pass_or_fail": ""} if result == "error" else {}))
    return pd.DataFrame(records)


def test_best_is_one_definition_for_growing_and_for_the_report_with_attempts_and_errors(tmp_path, optimizer_server):
    """With two attempts and an infrastructure error, rows and instance means can disagree; the candidate the
    next ruleset grows from and the best loop of the report (and of Phoenix's tag) are the same one."""
    llm, _ = optimizer_server
    run = make_run(tmp_path, "best")
    a, b = run.ids("validation")
    client = LLMClient(Endpoint(llm.base_url, "k", "gpt-5"), cache=False)
    optimizer = PromptLearningOptimizer("base prompt", client=client, **run.optimizer_options())
    validation = [
        {a: ["pass", "pass"], b: ["fail", "error"]},  # 2 of 3 scored runs pass; per instance: 1.0 and 0.0
        {a: ["pass", "error"], b: ["pass", "fail"]},  # 2 of 3 scored runs pass; per instance: 1.0 and 0.5
    ]
    ruleset = ""
    for loop, outcomes in enumerate(validation):
        optimizer.loop = loop
        train = rows(dict.fromkeys(run.ids("train"), False), explanation="e")
        results = run.save_results(loop, train=train, validation=attempts(outcomes))
        parent = run.select(loop, ruleset, results, optimizer)
        new = optimizer.optimize(parent.train, "cline_patch", ["correctness", "explanation"], ruleset=parent.ruleset)
        ruleset = run.save_loop(loop, ruleset, new, results, optimizer)
    run.finish()
    report = json.loads((run.dir / "report.json").read_text())
    assert run.history["validation_accuracy"].tolist() == [2 / 3, 2 / 3]  # a tie: the earlier loop
    assert parent.loop == report["best_loop"] == 0
    assert "grown_from: loop 0" in (run.rulesets_dir / "ruleset_1.txt").read_text()


HARMFUL = "Stop at once when you are unsure (marker 7f3a)."
HARMLESS = "Read the failing test before editing."


class HarmfulRewrite:
    """Models for the whole notebook: the agent (real Cline) fixes every task unless its rules hold the harmful
    rule; the optimizer writes the harmful rule from the empty ruleset, and another one when it sees that
    the harmful one was already tried."""

    def __init__(self, instances):
        self.instances = instances

    def __call__(self, request):
        if request.get("tools"):
            inst = task_of(request, self.instances)
            if HARMFUL in system_prompt(request) or inst is None:
                return Reply(content="I am unsure, so I stop here.")
            return (
                Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
                if turn(request) == 0
                else Reply(content="Fixed.")
            )
        schema = (request.get("response_format") or {}).get("json_schema", {})
        text = messages_text(request, "user")
        if schema.get("name") == "patch_judgement":
            answer = {"correctness": "incorrect", "explanation": "e", "improvement": "i"}
            if "rules" in schema["schema"]["properties"]:
                answer["rules"] = [
                    {"id": i, "verdict": "not_applicable", "evidence": ""}
                    for i in schema["schema"]["properties"]["rules"]["items"]["properties"]["id"]["enum"]
                ]
            return Reply(content=json.dumps(answer))
        rule = HARMLESS if "## Rulesets already grown from this one" in text else HARMFUL
        return Reply(content=f"<ruleset>\n- {rule}\n</ruleset>")


@pytest.mark.slow
def test_the_notebook_grows_from_the_better_candidate_after_a_harmful_rewrite(bundled, run_name, monkeypatch, tmp_path):
    for name in [*provider_variables(), "AGENT_MODEL", "JUDGE_MODEL", "OPTIMIZER_MODEL"]:
        monkeypatch.delenv(name, raising=False)
    with ScriptedLLM(HarmfulRewrite(bundled.to_dict("records")), models={"gpt-4.1", "gpt-5"}, api_key="sk-t") as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-t")
        sizes = dict(TRAIN_SIZE=4, VALIDATION_SIZE=2, TEST_SIZE=1, LOOPS=3, WORKERS=2)
        runs = str(tmp_path / "agent_runs")
        run_notebook(
            tmp_path / "out.ipynb", RUN_NAME=run_name, PHOENIX=False, SELECTION="best", AGENT_RUNS_DIR=runs, **sizes
        )
        agent_log = [r for r in llm.chat_requests() if r.get("tools")]
    run_dir, rulesets_dir = run_paths(run_name)
    history = [json.loads((run_dir / f"loop_{loop}.json").read_text()) for loop in range(3)]
    assert [h["validation_accuracy"] for h in history] == [1.0, 0.0, 1.0]  # loop 1 ran the harmful rewrite
    # so loop 1's rewrite grew from loop 0's ruleset; in loop 2, loop 0 ties loop 2 on validation: the earlier
    assert [h["grown_from"] for h in history] == [0, 0, 0]
    assert "grown_from: loop 0" in (rulesets_dir / "ruleset_1.txt").read_text()
    _, _, learned_in_1 = read_ruleset_file(rulesets_dir / "ruleset_1.txt")
    assert learned_in_1 == f"- {HARMLESS}\n"
    last = agent_log[-1]  # loop 2's agent ran the ruleset grown from loop 0, not from the harmful one
    assert HARMLESS in system_prompt(last) and HARMFUL not in system_prompt(last)
