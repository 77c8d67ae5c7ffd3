"""mini-swe-agent, the third agent: the PyPI package's own loop and SWE-bench configuration, its model
reached through the recording gateway (the rules on the wire), its commands run where the other agents run
(the instance's container), and the notebook's loop with it on the bundled tasks offline."""

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import leftover_containers, logged_requests, run_notebook

from cookbook.llm.messages import system_prompt
from cookbook.llm.transcripts import requests
from cookbook.loop import read_ruleset_file, run_paths
from cookbook.scripted.demo import RULE_KEYWORD, final_reply, shell_call
from cookbook.scripted.server import Reply, ScriptedLLM, patch_as_tool_calls, task_of, turn
from cookbook.seams import Endpoint
from run_act import run_act

pytestmark = pytest.mark.slow

PROBE = "python -c 'import os, sys; print(os.getcwd(), sys.executable)'"
RULE = f"- Before you change anything, print where you are with `{PROBE}`."


def test_mini_swe_agent_runs_its_commands_in_the_instances_container_and_its_rules_reach_the_model(
    docker_engine, bundled, tmp_path
):
    instances = bundled.to_dict("records")
    fixer, quitter = instances[0], instances[5]

    def script(request):  # the model of a bash-only agent: probe, fix, submit (the quitter submits nothing)
        inst = task_of(request, instances)
        if inst is None or inst["instance_id"] == quitter["instance_id"]:
            return final_reply(request, "I could not find the bug, so I changed nothing.")
        if turn(request) == 0:
            return Reply(tool_calls=[shell_call(request, PROBE)])
        if turn(request) == 1:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
        return final_reply(request, "I fixed the bug.")

    with ScriptedLLM(script, models={"scripted-model"}, api_key="sk-test") as llm:
        df = run_act(
            "bundled",
            [fixer["instance_id"], quitter["instance_id"]],
            "mini",
            RULE,
            workers=2,
            harness="docker",
            agent="mini-swe-agent",
            endpoint=Endpoint(llm.base_url, "sk-test", "scripted-model"),
            runs_dir=tmp_path / "runs",
            timeout=180,
            progress=False,
        )
        sent = llm.chat_requests()
    rows = df.set_index("instance_id")
    fixed, quit_row = rows.loc[fixer["instance_id"]], rows.loc[quitter["instance_id"]]
    assert (fixed["outcome"], fixed["agent"]) == ("resolved", "mini-swe-agent"), fixed["error"]
    assert "patch.txt" not in fixed["cline_patch"] and "swebench report" in fixed["score_reason"]
    assert (quit_row["outcome"], quit_row["error"], quit_row["score_reason"]) == ("unresolved", "", "empty patch")
    # the rule was in the system prompt of every request the model received, as the gateway recorded it
    assert df["rules_applied"].all() and all(RULE in system_prompt(r) for r in sent)
    assert all([t["function"]["name"] for t in r["tools"]] == ["bash"] for r in sent)  # its one tool
    # its command ran in the instance's container: /testbed, with the image's python
    transcript = requests(fixed["transcript_path"])
    outputs = [m["content"] for e in transcript for m in e["request"]["messages"] if m.get("role") == "tool"]
    assert any("/testbed /opt/venv/bin/python" in str(o) for o in outputs)
    trajectory = json.loads(Path(fixed["transcript_path"]).with_name("trajectory.json").read_text())  # its own
    assert trajectory["info"]["exit_status"] == "Submitted" and trajectory["info"]["mini_version"]
    assert leftover_containers() == []


def test_the_notebook_learns_with_mini_swe_agent_offline(offline, run_name, tmp_path):
    parameters = dict(RUN_NAME=run_name, AGENT="mini-swe-agent", LOOPS=2, TRAIN_SIZE=2, TEST_SIZE=2, WORKERS=2)
    run_notebook(tmp_path / "out.ipynb", **parameters, PHOENIX=False, AGENT_RUNS_DIR=str(tmp_path / "agent_runs"))
    run_dir, rulesets_dir = run_paths(run_name)
    train = pd.read_csv(run_dir / "train_results_0.csv")
    assert set(train["agent"]) == {"mini-swe-agent"} and train["outcome"].tolist() == ["unresolved", "unresolved"]
    # the judge read what it did from the gateway's transcript: its bash calls, how it ended
    assert train["trajectory"].str.contains("Ended: gave up").all() and train["explanation"].str.len().gt(0).all()
    _, test_0, rule = read_ruleset_file(rulesets_dir / "ruleset_0.txt")
    _, test_1, _ = read_ruleset_file(rulesets_dir / "ruleset_1.txt")
    assert RULE_KEYWORD in rule and test_1 > test_0  # the learned rule made it run the tests, then fix
    loop_1 = pd.read_csv(run_dir / "test_results_1.csv")
    assert loop_1["rules_applied"].all()
    agent_requests = [
        r for r in logged_requests(offline) if [t["function"]["name"] for t in r.get("tools", [])] == ["bash"]
    ]
    assert any(rule.strip() in system_prompt(r) for r in agent_requests)  # the rule on the wire, in loop 1
    tests_run = pd.read_csv(run_dir / "train_results_1.csv")["trajectory"]
    assert tests_run.str.contains("python -m pytest").all()


def test_mini_swe_agent_on_anthropics_api_through_the_gateway(bundled, tmp_path):
    """With an Anthropic endpoint it speaks the Messages API (litellm's anthropic/<model>): the upstream sees
    only /messages with its own key in x-api-key, and the rules in every request's system prompt."""
    instances = bundled.to_dict("records")
    easy = next(i for i in instances if i.get("difficulty") == "easy")

    def script(request):
        if turn(request) == 0:
            return Reply(tool_calls=patch_as_tool_calls(task_of(request, instances)["patch"], request))
        return final_reply(request, "I fixed the bug.")

    with ScriptedLLM(script, models={"claude-sonnet-4-5"}, api_key="sk-ant-test") as llm:
        df = run_act(
            "bundled",
            [easy["instance_id"]],
            "mini-anthropic",
            RULE,
            workers=1,
            agent="mini-swe-agent",
            endpoint=Endpoint(llm.base_url, "sk-ant-test", "claude-sonnet-4-5", "anthropic"),
            runs_dir=tmp_path / "runs",
            timeout=180,
            progress=False,
        )
        received = list(llm.requests)
    row = df.iloc[0]
    assert (row["outcome"], row["rules_applied"], row["llm_calls"]) == ("resolved", True, 2), row["error"]
    assert received and all(r["path"].endswith("/messages") and r["auth"] == ["x-api-key"] for r in received)
    assert all(RULE in system_prompt(r["body"]) for r in received)
