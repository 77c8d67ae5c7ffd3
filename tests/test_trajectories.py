"""The judge sees what the agent did: the trajectory condensed from the run's transcript, with the real Cline
(OpenAI-style tool calls) and Claude Code (Anthropic tool_use blocks) against the strict scripted server."""

import json

import pandas as pd
import pytest

from cookbook.agents.claude_code import ClaudeCodeAgent
from cookbook.llm.client import LLMClient
from cookbook.llm.messages import messages_text
from cookbook.llm.transcripts import TranscriptWriter
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, turn
from cookbook.seams import Endpoint
from cookbook.trajectories import condense, read_steps
from evaluate import evaluate_results
from run_act import run_act

COMMAND = "echo cookbook-trajectory-7f3a && ls"
JUDGEMENT = json.dumps({"correctness": "incorrect", "explanation": "It listed files and stopped.", "improvement": "i"})
CLAUDE_MODELS = {"claude-sonnet-4-5", "claude-haiku-4-5-20251001", "claude-3-5-haiku-20241022"}


def judged_request(df, tmp_path) -> str:
    """The user message of the judge's request for the run's row."""
    with ScriptedLLM(lambda r: Reply(content=JUDGEMENT), models={"gpt-5"}) as judge:
        client = LLMClient(Endpoint(judge.base_url, "k", "gpt-5"), cache=False)
        judged = evaluate_results(df, client=client, progress=False)
        [request] = judge.chat_requests()
    assert judged["explanation"].tolist() == ["It listed files and stopped."]
    assert judged["trajectory"].iloc[0] in messages_text(request, "user")
    return messages_text(request, "user")


@pytest.mark.slow
def test_the_judge_sees_the_command_cline_ran_and_its_output(bundled, tmp_path):
    inst = bundled.iloc[1]

    def script(request):  # one distinctive command, then stop without changing anything
        if turn(request) == 0:
            return Reply(tool_calls=[ToolCall("run_commands", {"commands": [COMMAND]})])
        return Reply(content="I only looked around; stopping here.")

    with ScriptedLLM(script, models={"scripted-model"}) as llm:
        endpoint = Endpoint(llm.base_url, "k", "scripted-model")
        df = run_act("bundled", [inst["instance_id"]], "t", "", 1, endpoint=endpoint, runs_dir=tmp_path, progress=False)
    row = df.iloc[0]
    assert row["cline_patch"] == "" and row["outcome"] == "unresolved" and row["llm_calls"] == 2

    text = judged_request(df, tmp_path)
    trajectory = text.split("## What the agent did (condensed from its transcript)\n")[1].split("\n\n## ")[0]
    assert f"1. $ {COMMAND}\n   cookbook-trajectory-7f3a\n" in trajectory  # the command, then what it printed
    assert "   pyproject.toml" in trajectory  # ls's output, from the tool result in the next request
    assert trajectory.startswith(
        'Ended: gave up — it stopped by itself after 2 LLM calls without changing any code; its last message: "I only'
    )
    assert "Tests: never ran the tests" in trajectory and "Files edited: none" in trajectory


@pytest.mark.slow
def test_the_judge_sees_claude_codes_bash_command_and_a_failed_edit(bundled, tmp_path):
    agent = ClaudeCodeAgent("claude-sonnet-4-5")
    if not agent.binary.exists():
        pytest.skip("Claude Code is not installed; `make setup` installs it from package.json")
    inst = bundled.iloc[2]

    def script(request):
        if not request.get("tools"):  # a side request (a title)
            return Reply(content="Looking around")
        if turn(request) == 0:
            return Reply(tool_calls=[ToolCall("Bash", {"command": COMMAND, "description": "look"})])
        if turn(request) == 1:
            edit = {"file_path": "README.md", "old_string": "no such text 7f3a", "new_string": "x"}
            return Reply(tool_calls=[ToolCall("Read", {"file_path": "README.md"}), ToolCall("Edit", edit)])
        return Reply(content="Nothing to change.")

    with ScriptedLLM(script, models=CLAUDE_MODELS, api_key="k") as llm:
        endpoint = Endpoint(llm.base_url, "k", "claude-sonnet-4-5", "anthropic")
        df = run_act(
            "bundled",
            [inst["instance_id"]],
            "t",
            "",
            1,
            agent=agent,
            endpoint=endpoint,
            runs_dir=tmp_path,
            progress=False,
        )
    text = judged_request(df, tmp_path)
    assert f"1. $ {COMMAND}\n   cookbook-trajectory-7f3a\n" in text and "   pyproject.toml" in text
    assert "Files read (1): `README.md`" in text and "Files edited (1): `README.md` (1 edit failed)" in text
    assert "edit README.md (Edit) — failed: <tool_use_error>String to replace not found" in text
    assert "<system-reminder>" not in text


def write_transcript(path, turns: int, output: str) -> None:
    """A long Cline-style run through the project's transcript writer: `turns` shell commands, each printing
    `output`, the last one the tests; then a final message."""
    messages = [{"role": "system", "content": "rules"}, {"role": "user", "content": "the issue"}]
    writer = TranscriptWriter(path)
    tools = [{"type": "function", "function": {"name": "run_commands", "parameters": {}}}]
    for i in range(turns):
        command = "python -m pytest -q" if i == turns - 1 else f"grep -rn step{i} src"
        call = {"id": f"c{i}", "type": "function", "function": {"name": "run_commands", "arguments": ""}}
        call["function"]["arguments"] = json.dumps({"commands": [command]})
        writer.append({"request": {"model": "m", "messages": list(messages), "tools": tools}})
        result = output + ("\n3 failed, 77 passed in 0.31s" if i == turns - 1 else "")
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{i}", "content": json.dumps([{"query": command, "result": result}])},
        ]
    writer.append({"request": {"model": "m", "messages": list(messages), "tools": tools}, "reply_text": "Done."})


def test_a_long_run_is_cut_to_the_budget_with_visible_markers(tmp_path):
    path = tmp_path / "transcript.jsonl"
    write_transcript(path, 40, "x" * 3000)
    steps, requests = read_steps(path)
    assert requests == 41 and len(steps) == 41 and steps[-1].kind == "said"
    row = {"transcript_path": str(path), "outcome": "unresolved", "error": "", "llm_calls": 41, "cline_patch": "+x"}
    text = condense(row, max_chars=4_000, output_chars=300)
    assert len(text) <= 4_000
    assert "[... 2,700 characters cut ...]" in text  # each output keeps its tail
    assert "cut to fit the budget ...]" in text and "1. $ grep -rn step0 src" in text  # the first steps, …
    assert "40. $ python -m pytest -q" in text and '41. said: "Done."' in text  # … and the last ones
    assert 'the last run (`python -m pytest -q`) said: "3 failed, 77 passed in 0.31s"' in text
    assert text.startswith("Ended: finished — it stopped by itself after 41 LLM calls with a patch")


def test_how_a_run_ended_comes_from_its_row():
    timeout = {"outcome": "timeout", "error": "killed at its deadline of 900 s", "llm_calls": 7, "transcript_path": ""}
    assert "Ended: timed out — the agent was killed at its deadline after 7 LLM calls" in condense(timeout)
    capped = {"outcome": "unresolved", "error": "stopped at the request cap of 60 LLM calls", "llm_calls": 60}
    assert "Ended: hit the request cap — stopped at the request cap of 60 LLM calls" in condense(capped)
    frame = pd.DataFrame([capped | {"transcript_path": float("nan")}])  # as read back from a CSV
    assert condense(frame.iloc[0].to_dict()).startswith("(no transcript of this run")
