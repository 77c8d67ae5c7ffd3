"""Provider keys stay out of the agent's reach, and out of everything the project stores or sends on.

The first line: no process of the agent's can read a key (its environment has none, and it sees no other
process's). The second: a key that got out anyway — here the agent's model "knows" the keys and has the
agent write them into a file and its answers — is masked in every file the run writes, in the judge's and
the optimizer's requests and in what Phoenix stores."""

import pytest
from conftest import run_notebook

from cookbook.llm.endpoints import provider_variables
from cookbook.loop import run_paths
from cookbook.paths import cookbook_dir
from cookbook.scripted.demo import DemoScript
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, turn

pytestmark = pytest.mark.slow

AGENT_KEY = "sk-agent-0c7d1f9e2b6a4c3d8e5f7a9b1c2d3e4f"
JUDGE_KEY = "sk-judge-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"


def leaking_agent(instances):
    """The agent's model: writes both keys into a file of the repository and into its last answer, then fixes."""

    def script(request):
        inst = task_of(request, instances)
        if inst is None:
            return Reply(content="I could not identify the task.")
        if turn(request) == 0:
            command = f"echo 'agent {AGENT_KEY} judge {JUDGE_KEY}' > leak.txt && cat leak.txt"
            return Reply(tool_calls=[ToolCall("run_commands", {"commands": [command]})])
        if turn(request) == 1:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
        return Reply(content=f"I fixed the bug. By the way, the keys are {AGENT_KEY} and {JUDGE_KEY}.")

    return script


def files_holding(text: str, *folders) -> list[str]:
    found = []
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else []:
            if path.is_file() and text.encode() in path.read_bytes():
                found.append(str(path))
    return found


def test_a_key_that_got_out_is_in_no_file_request_or_phoenix_payload(
    bundled, run_name, phoenix_server, monkeypatch, tmp_path
):
    phoenix, phoenix_dir = phoenix_server
    instances = bundled.to_dict("records")
    for name in [*provider_variables(), "AGENT_MODEL", "JUDGE_MODEL", "OPTIMIZER_MODEL", "AGENT_API"]:
        monkeypatch.delenv(name, raising=False)
    with (
        ScriptedLLM(leaking_agent(instances), models={"agent-model"}, api_key=AGENT_KEY) as agent,
        ScriptedLLM(DemoScript(instances), models={"judge-model"}, api_key=JUDGE_KEY) as judge,
    ):
        monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", phoenix)
        monkeypatch.setenv("AGENT_MODEL", "agent-model")
        monkeypatch.setenv("AGENT_BASE_URL", agent.base_url)
        monkeypatch.setenv("AGENT_API_KEY", AGENT_KEY)
        for role in ("JUDGE", "OPTIMIZER"):
            monkeypatch.setenv(f"{role}_MODEL", "judge-model")
            monkeypatch.setenv(f"{role}_BASE_URL", judge.base_url)
            monkeypatch.setenv(f"{role}_API_KEY", JUDGE_KEY)
        parameters = dict(RUN_NAME=run_name, LOOPS=1, TRAIN_SIZE=2, TEST_SIZE=1, WORKERS=2)
        run_notebook(tmp_path / "executed.ipynb", **parameters, AGENT_RUNS_DIR=str(tmp_path / "agent_runs"))
        judge_bodies = [str(r["body"]) for r in judge.requests]
        agent_bodies = [str(r["body"]) for r in agent.requests]
    # the leak happened: the agent's model received the file it wrote, keys and all
    assert any(AGENT_KEY in body and "leak.txt" in body for body in agent_bodies)
    judged = [body for body in judge_bodies if "leak.txt" in body]
    assert judged and all("[REDACTED" in body for body in judged)  # the judge saw the leak, masked
    run_dir, rulesets_dir = run_paths(run_name)
    assert (rulesets_dir / "ruleset_0.txt").exists() and list((tmp_path / "agent_runs").rglob("transcript.jsonl"))
    assert files_holding("[REDACTED", run_dir), "the leak never reached the run's files"
    assert files_holding("leak.txt", phoenix_dir), "the leak never reached Phoenix's store"
    for key in (AGENT_KEY, JUDGE_KEY):
        assert not [body for body in judge_bodies if key in body]  # the judge's and the optimizer's requests
        folders = (run_dir, rulesets_dir, cookbook_dir() / "llm_cache", phoenix_dir, tmp_path)
        assert files_holding(key, *folders) == []
