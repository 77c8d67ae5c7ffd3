"""One endpoint per role, end to end: the notebook (papermill) with Claude Code as the agent against a
scripted Anthropic endpoint, while the judge and the optimizer — a reasoning model — use a scripted OpenAI
endpoint; every role configured by its own environment variables."""

import json

import pandas as pd
import papermill
import pytest

from cookbook.agents.claude_code import ClaudeCodeAgent
from cookbook.llm.endpoints import provider_variables
from cookbook.llm.messages import system_prompt
from cookbook.llm.ping import PING
from cookbook.loop import read_ruleset_file, run_paths
from cookbook.paths import PROJECT_DIR
from cookbook.scripted.demo import RULE_KEYWORD, DemoScript
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, task_of, turn

pytestmark = pytest.mark.slow

# Claude Code asks for its model and, for small side tasks, a small one
CLAUDE_MODELS = {"claude-sonnet-4-5", "claude-haiku-4-5-20251001", "claude-3-5-haiku-20241022"}


class ClaudeScript:
    """Claude Code's model: fixes the easy tasks, and the others only when its rules say to run the tests."""

    def __init__(self, instances):
        self.instances = instances

    def __call__(self, request):
        inst = task_of(request, self.instances)
        if inst is None or not request.get("tools"):  # a side request (a title, a summary)
            return Reply(content="Fixing a bug")
        if turn(request) > 0:
            return Reply(content="I fixed the bug.")
        if inst["difficulty"] == "easy" or RULE_KEYWORD in system_prompt(request):
            command = f"git apply <<'PATCH'\n{inst['patch']}PATCH"
            return Reply(tool_calls=[ToolCall("Bash", {"command": command, "description": "apply the fix"})])
        return Reply(content="I am not sure where the bug is, so I will stop here.")


def reasoning_judge_and_optimizer(instances):
    demo = DemoScript(instances)

    def script(request):
        reply = demo(request)
        reply.reasoning_tokens = 6_000  # a gpt-5 that thinks before every answer
        return reply

    return script


def test_claude_code_on_anthropic_with_an_openai_judge_and_optimizer(bundled, run_name, monkeypatch, tmp_path):
    if not ClaudeCodeAgent("claude-sonnet-4-5").binary.exists():
        pytest.skip("Claude Code is not installed; `make setup` installs it from package.json")
    instances = bundled.to_dict("records")
    for name in [*provider_variables(), "AGENT_MODEL", "JUDGE_MODEL", "OPTIMIZER_MODEL", "AGENT_API"]:
        monkeypatch.delenv(name, raising=False)
    with (
        ScriptedLLM(ClaudeScript(instances), models=CLAUDE_MODELS, api_key="sk-ant-test") as anthropic,
        ScriptedLLM(reasoning_judge_and_optimizer(instances), models={"gpt-5"}, api_key="sk-openai-test") as openai,
    ):
        monkeypatch.setenv("AGENT_MODEL", "claude-sonnet-4-5")  # AGENT_API: anthropic, Claude Code's default
        monkeypatch.setenv("AGENT_BASE_URL", anthropic.base_url.removesuffix("/v1"))  # as ANTHROPIC_BASE_URL is
        monkeypatch.setenv("AGENT_API_KEY", "sk-ant-test")
        for role in ("JUDGE", "OPTIMIZER"):
            monkeypatch.setenv(f"{role}_BASE_URL", openai.base_url)
            monkeypatch.setenv(f"{role}_API_KEY", "sk-openai-test")
        parameters = dict(RUN_NAME=run_name, AGENT="claude-code", LOOPS=2, TRAIN_SIZE=2, TEST_SIZE=2, PHOENIX=False)
        parameters["AGENT_RUNS_DIR"] = str(tmp_path / "agent_runs")
        papermill.execute_notebook(
            str(PROJECT_DIR / "optimize_cline_act.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={**parameters, "WORKERS": 2},
            cwd=str(PROJECT_DIR),
            progress_bar=False,
        )
        pings = [r for r in anthropic.requests + openai.requests if r["body"].get("messages") == PING]  # preflight's
        agent_log = [r for r in anthropic.requests if r["body"].get("messages") != PING]
        model_log = [r for r in openai.requests if r["body"].get("messages") != PING]
    assert len(pings) == 2  # one per endpoint and model: the agent's, and the judge's (the optimizer's is the same)

    assert "OFFLINE DEMO MODE" not in (tmp_path / "out.ipynb").read_text()
    # each upstream saw only its own API, its own header and its own key (a wrong key would have been a 401)
    assert agent_log and all(
        r["path"].split("?")[0].endswith("/messages") and r["auth"] == ["x-api-key"] for r in agent_log
    )
    assert model_log and all(r["path"].endswith("/chat/completions") for r in model_log)
    assert all(r["auth"] == ["authorization"] and r["body"]["max_completion_tokens"] == 32_000 for r in model_log)

    run_dir, rulesets_dir = run_paths(run_name)
    train = pd.read_csv(run_dir / "train_results_0.csv")
    assert set(train["agent"]) == {"claude-code"} and set(train["model"]) == {"claude-sonnet-4-5"}
    assert train["outcome"].tolist() == ["unresolved", "unresolved"] and train["explanation"].str.len().gt(0).all()
    assert train["judge_reasoning_tokens"].eq(6_000).all()
    _, test_0, rule = read_ruleset_file(rulesets_dir / "ruleset_0.txt")
    _, test_1, _ = read_ruleset_file(rulesets_dir / "ruleset_1.txt")
    assert RULE_KEYWORD in rule and test_1 > test_0  # the rule learned from the judge made Claude Code fix more
    calls = json.loads((run_dir / "optimizer_calls_0.json").read_text())
    assert calls and all(c["reasoning_tokens"] == 6_000 and not c["kept_previous"] for c in calls)
