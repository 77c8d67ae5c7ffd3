"""A prompt over the model's window is the agent's own end, in every provider's words: the run is stored as
unresolved with the reason "context overflow", judged like any other, and never paid again. A malformed
request stays the infrastructure's error. The real agents against strict scripted servers."""

import json
import os
import subprocess
import sys

import httpx
import pandas as pd
import pytest

from cookbook.agents.claude_code import ClaudeCodeAgent
from cookbook.llm.endpoints import provider_variables
from cookbook.llm.gateway import Gateway
from cookbook.loop import run_paths
from cookbook.paths import PROJECT_DIR
from cookbook.scripted.demo import DemoScript
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, turn
from cookbook.seams import Endpoint
from run_act import run_act

pytestmark = pytest.mark.slow

# Cline's first request is ~5.6k tokens (system prompt, tools, task); a turn that thinks out loud for ~6k
# tokens makes the second one ~11.6k: over a vLLM deployment's 9k window.
WINDOW = 9_000
THINKING = "Let me think about where the bug is. " + "thinking " * 6_000


def thinks_then_lists(request: dict) -> Reply:
    if turn(request) == 0:
        return Reply(content=THINKING, tool_calls=[ToolCall("run_commands", {"commands": ["ls"]})])
    return Reply(content="I fixed the bug.")


@pytest.fixture(scope="module")
def instances(bundled):
    return bundled.to_dict("records")


def run(llm, ids, runs_dir, model="qwen-coder", api="openai", **options):
    options = {"workers": 2, "timeout": 120, "progress": False, **options}
    return run_act(
        "bundled", ids, "overflow", "", endpoint=Endpoint(llm.base_url, "k", model, api), runs_dir=runs_dir, **options
    )


def test_a_vllm_window_overflow_is_the_agents_unresolved_end_and_is_never_run_again(instances, tmp_path):
    ids = [instances[0]["instance_id"], instances[5]["instance_id"]]
    served = dict(models={"qwen-coder"}, windows={"qwen-coder": WINDOW}, dialect="vllm")
    with ScriptedLLM(thinks_then_lists, **served) as llm:
        df = run(llm, ids, tmp_path)
        sent = len(llm.chat_requests())
        again = run(llm, ids, tmp_path)
        assert len(llm.chat_requests()) == sent  # stored as the agent's outcome: nothing is paid twice
    for row in df.to_dict("records"):
        assert (row["outcome"], row["pass_or_fail"], row["error_kind"]) == ("unresolved", "fail", ""), row["error"]
        assert row["error"].startswith("context overflow: the conversation outgrew the window of the agent's endpoint")
        assert f"maximum context length is {WINDOW} tokens" in row["error"]
    assert again[["outcome", "error"]].equals(df[["outcome", "error"]])
    assert len(list(tmp_path.glob("*/*/agent.json"))) == 2


def test_a_malformed_request_is_the_infrastructures_error_and_is_not_stored(instances, tmp_path):
    """Any other 400 (here: the endpoint rejects a parameter) stops the run at once as the endpoint's error."""

    def malformed(request):
        if turn(request) == 0:
            return Reply(tool_calls=[ToolCall("run_commands", {"commands": ["ls"]})])
        return Reply(status=400, content="Invalid value for 'tool_choice': unknown tool.")

    with ScriptedLLM(malformed, models={"qwen-coder"}, windows={"qwen-coder": WINDOW}, dialect="vllm") as llm:
        df = run(llm, [instances[1]["instance_id"]], tmp_path)
        assert len(llm.chat_requests()) == 2  # the run stopped at the 400: retrying cannot fix it
    row = df.iloc[0]
    assert (row["outcome"], row["pass_or_fail"], row["error_kind"]) == ("error", "", "endpoint")
    assert "rejected the request (400: Invalid value for 'tool_choice'" in row["error"]
    assert not list(tmp_path.glob("*/*/agent.json"))  # run again next time


def test_anthropics_prompt_is_too_long_is_passed_on_and_noted_not_the_endpoints_failure(tmp_path):
    """The gateway passes the 400 on (the agent may shorten its conversation), does not stop the run, and
    forgets it once the model answers again."""
    huge = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "word " * 210_000}],
    }
    small = {**huge, "messages": [{"role": "user", "content": "and now?"}]}
    stopped = []
    with (
        ScriptedLLM(lambda r: Reply(content="ok"), models={"claude-sonnet-4-5"}, api_key="sk-ant") as llm,
        Gateway(Endpoint(llm.base_url, "sk-ant", "claude-sonnet-4-5", "anthropic")) as gateway,
    ):
        url = gateway.register("run", tmp_path / "t.jsonl", on_fatal=lambda: stopped.append(True))
        headers = {"x-api-key": "via-gateway", "anthropic-version": "2023-06-01"}
        refused = httpx.post(f"{url}/messages", json=huge, headers=headers, timeout=60)
        noted = gateway.stats("run").overflow
        answered = httpx.post(f"{url}/messages", json=small, headers=headers, timeout=60)
        stats = gateway.finish("run")
    assert refused.status_code == 400 and refused.json()["error"]["message"].startswith("prompt is too long: ")
    assert (
        noted is not None and noted.message.startswith("context overflow: ") and "prompt is too long" in noted.message
    )
    assert answered.status_code == 200 and stats.overflow is None  # the agent went on: not its end after all
    assert (stats.fatal, stats.upstream_error, stopped) == (None, None, [])


def test_claude_code_over_anthropics_window_ends_unresolved_with_a_context_overflow(instances, tmp_path):
    """Claude Code sends max_tokens 32000 and retries with less when Anthropic says the prompt and max_tokens
    exceed the window; with a window it cannot fit in, its run ends there: its own outcome, stored."""
    agent = ClaudeCodeAgent("claude-sonnet-4-5")
    if not agent.binary.exists():
        pytest.skip(f"Claude Code is not installed ({agent.binary}); `make setup` installs it from package.json")
    models = {"claude-sonnet-4-5", "claude-haiku-4-5-20251001", "claude-3-5-haiku-20241022"}

    def script(request):
        if request.get("tools") and turn(request) == 0:
            return Reply(content=THINKING, tool_calls=[ToolCall("Bash", {"command": "ls", "description": "list"})])
        return Reply(content="I fixed the bug.")

    with ScriptedLLM(script, models=models, windows=dict.fromkeys(models, 27_000), api_key="k") as llm:
        df = run(llm, [instances[1]["instance_id"]], tmp_path, agent=agent, model="claude-sonnet-4-5", api="anthropic")
    row = df.iloc[0]
    assert (row["outcome"], row["error_kind"]) == ("unresolved", ""), row["error"]
    assert row["error"].startswith("context overflow: ") and "exceed context limit" in row["error"]
    entries = [json.loads(line) for line in open(row["transcript_path"])]
    assert {e["status"] for e in entries} == {200, 400}  # it did go on after its first overflow
    assert len(list(tmp_path.glob("*/*/agent.json"))) == 1


def test_through_the_cli_a_run_over_a_local_models_window_is_judged_and_a_new_run_pays_nothing_again(
    bundled, run_name, tmp_path
):
    """A vLLM deployment plays the agent's model (its 9k window), OpenAI's models judge and optimize: the loop
    completes (no circuit breaker: these are the agent's outcomes), each training run is stored unresolved
    with the reason "context overflow" and judged, and another run with the same inputs sends the agent's
    model nothing."""
    instances = bundled.to_dict("records")
    clean = {k: v for k, v in os.environ.items() if k not in provider_variables() and not k.endswith("_MODEL")}
    served = dict(models={"qwen-coder"}, windows={"qwen-coder": WINDOW}, dialect="vllm", api_key="local-key")
    with (
        ScriptedLLM(thinks_then_lists, **served) as vllm,
        ScriptedLLM(DemoScript(instances), models={"gpt-5"}, api_key="sk-openai") as openai_models,
    ):
        env = clean | {"AGENT_BASE_URL": vllm.base_url, "AGENT_API_KEY": "local-key", "AGENT_MODEL": "qwen-coder"}
        env |= {"OPENAI_BASE_URL": openai_models.base_url, "OPENAI_API_KEY": "sk-openai"}
        flags = ["--train-size", "1", "--test-size", "1", "--loops", "1", "--phoenix", "false"]
        flags += ["--agent-runs-dir", str(tmp_path / "agent_runs")]
        command = [sys.executable, "-m", "cookbook", "run", *flags]
        done = subprocess.run(
            [*command, "--run-name", run_name], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        agent_requests = len(vllm.chat_requests())
        again = subprocess.run(
            [*command, "--run-name", f"{run_name}-again"],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        assert [r for r in vllm.chat_requests()[agent_requests:] if r.get("tools")] == []  # only its ping
    try:
        row = pd.read_csv(run_paths(run_name)[0] / "train_results_0.csv").iloc[0]
        assert (row["outcome"], row["pass_or_fail"]) == ("unresolved", "fail") and pd.isna(row["error_kind"])
        assert row["error"].startswith("context overflow: ") and "maximum context length is 9000 tokens" in row["error"]
        assert row["correctness"] == "incorrect" and row["explanation"]  # judged like any of the agent's outcomes
    finally:
        for path in run_paths(f"{run_name}-again"):
            subprocess.run(["rm", "-rf", str(path)], check=False)
