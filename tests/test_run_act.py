"""run_act with the real Cline binary against the scripted OpenAI-compatible server."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import processes_mentioning, wait_until_gone

from cookbook.agents.claude_code import ClaudeCodeAgent
from cookbook.agents.cline import ClineAgent
from cookbook.llm.messages import system_prompt
from cookbook.paths import PROJECT_DIR
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, turn
from cookbook.seams import Endpoint
from run_act import run_act

pytestmark = pytest.mark.slow

# Claude Code asks for its model and, for small side tasks, a small one
CLAUDE_MODELS = {"claude-sonnet-4-5", "claude-haiku-4-5-20251001", "claude-3-5-haiku-20241022"}
MARKER = "Always run the FAIL_TO_PASS-style regression tests before finishing (marker 7f3a)."


class Behaviours:
    """A script whose behaviour per instance a test chooses: gold, give_up, hang or wreck (remove .git)."""

    def __init__(self, instances):
        self.instances = instances
        self.by_id: dict[str, str] = {}

    def __call__(self, request):
        inst = task_of(request, self.instances)
        behaviour = self.by_id.get(inst["instance_id"], "gold") if inst else "give_up"
        if behaviour == "hang":
            return Reply(hang=True)
        if behaviour == "wreck" and turn(request) == 0:
            return Reply(tool_calls=[ToolCall("run_commands", {"commands": ["rm -rf .git"]})])
        if behaviour == "gold" and turn(request) == 0:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
        if behaviour == "gold":
            return Reply(content="I fixed the bug.")
        return Reply(content="I could not find the cause of this bug, so I am giving up.")


@pytest.fixture(scope="module")
def instances(bundled):
    return bundled.to_dict("records")


@pytest.fixture(scope="module")
def llm(instances):
    with ScriptedLLM(Behaviours(instances), models={"scripted-model"}) as server:
        yield server


@pytest.fixture
def behaviours(llm):
    llm.script.by_id.clear()
    return llm.script.by_id


def _run(llm, ids, runs_dir, ruleset=MARKER, model="scripted-model", api="openai", **options):
    options = {"workers": 2, "timeout": 120, "progress": False, **options}
    endpoint = Endpoint(llm.base_url, "test-key", model, api)
    return run_act("bundled", ids, "test", ruleset, endpoint=endpoint, runs_dir=runs_dir, **options)


def test_gold_edits_pass_give_up_fails_and_rules_reach_the_model(llm, behaviours, instances, tmp_path):
    gold_id, give_up_id = instances[0]["instance_id"], instances[5]["instance_id"]
    behaviours[give_up_id] = "give_up"
    before = len(llm.chat_requests())
    df = _run(llm, [gold_id, give_up_id], tmp_path).set_index("instance_id")

    assert df.loc[gold_id, "pass_or_fail"] == "pass", df.loc[gold_id, ["error", "score_reason"]].tolist()
    assert df.loc[gold_id, "outcome"] == "resolved"
    assert df.loc[gold_id, "cline_patch"].strip() and ".clinerules" not in df.loc[gold_id, "cline_patch"]
    assert df.loc[give_up_id, "pass_or_fail"] == "fail" and df.loc[give_up_id, "outcome"] == "unresolved"
    assert df.loc[give_up_id, "cline_patch"] == ""

    requests = llm.chat_requests()[before:]
    assert len(requests) == df["llm_calls"].sum() >= 3
    assert all(MARKER in system_prompt(r) for r in requests)
    assert df["rules_applied"].tolist() == [True, True]
    assert (df["prompt_tokens"] > 0).all() and (df["completion_tokens"] > 0).all()
    transcript = Path(df.loc[gold_id, "transcript_path"])
    entries = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert len(entries) == df.loc[gold_id, "llm_calls"] and entries[0]["usage"]["prompt_tokens"] > 0


def test_rules_applied_is_false_when_the_agent_drops_the_rules(llm, behaviours, instances, tmp_path):
    """A ruleset file that the agent never reads (here: a rules folder shadowed by an ignored name)
    must show as not applied: the proof comes from the wire, not from the file existing."""

    class DropRules(ClineAgent):
        rules_file = ".not-clinerules"

    agent = DropRules("scripted-model")
    df = _run(llm, [instances[1]["instance_id"]], tmp_path, agent=agent)
    assert df["rules_applied"].tolist() == [False]


def test_a_hanging_model_times_out_and_leaves_no_process(llm, behaviours, instances, tmp_path):
    hang_id = instances[2]["instance_id"]
    behaviours[hang_id] = "hang"
    start = time.monotonic()
    df = _run(llm, [hang_id], tmp_path, timeout=15)
    assert time.monotonic() - start < 90
    row = df.iloc[0]
    assert row["outcome"] == "timeout" and row["pass_or_fail"] == "fail"
    assert "deadline" in row["error"]
    assert processes_mentioning(str(tmp_path)) == []


def test_one_instance_that_breaks_is_its_own_error_row_and_the_other_runs_go_on(llm, behaviours, instances, tmp_path):
    """An agent that removes its checkout's .git leaves no patch to take: that instance's run is an
    infrastructure error (not stored, run again next time), while the runs in flight beside it finish."""
    wreck, *gold = [inst["instance_id"] for inst in instances[11:14]]
    behaviours[wreck] = "wreck"
    df = _run(llm, [wreck, *gold], tmp_path, workers=3).set_index("instance_id")
    assert df.loc[gold, "outcome"].tolist() == ["resolved", "resolved"]
    assert (df.loc[wreck, "outcome"], df.loc[wreck, "error_kind"]) == ("error", "workspace")
    assert df.loc[wreck, "error"].startswith("GitError: git ")
    assert {p.parent.parent.name for p in tmp_path.glob("*/*/agent.json")} == set(gold)


def test_second_identical_call_makes_no_request(llm, behaviours, instances, tmp_path):
    ids = [instances[3]["instance_id"], instances[10]["instance_id"]]
    first = _run(llm, ids, tmp_path)
    before = len(llm.chat_requests())
    second = _run(llm, ids, tmp_path)
    assert len(llm.chat_requests()) == before
    cols = ["instance_id", "pass_or_fail", "cline_patch", "llm_calls", "rules_applied"]
    assert second[cols].equals(first[cols])
    # another ruleset is another run
    _run(llm, ids[:1], tmp_path, ruleset=MARKER + "\nAnother rule.")
    assert len(llm.chat_requests()) > before


def test_two_calls_with_the_same_inputs_at_once_pay_for_one_run(llm, behaviours, instances, tmp_path):
    """The store of agent runs is shared (another run name, another notebook): a second call that asks for
    the same run while the first makes it waits for it and reads it back."""
    ids = [instances[7]["instance_id"]]
    before = len(llm.chat_requests())
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: _run(llm, ids, tmp_path), range(2))
    cols = ["instance_id", "outcome", "cline_patch", "llm_calls", "transcript_path"]
    assert first[cols].equals(second[cols]) and first["outcome"].tolist() == ["resolved"]
    assert len(llm.chat_requests()) - before == first["llm_calls"].sum()  # one run's requests, not two


RUNNER = """
from cookbook.seams import Endpoint
from run_act import run_act
run_act("bundled", {ids!r}, "killed", {ruleset!r}, workers=1, endpoint=Endpoint({url!r}, "k", "scripted-model"),
        runs_dir={runs!r}, timeout=120, progress=False)
"""


def test_after_a_kill_the_next_call_runs_only_what_is_missing(llm, behaviours, instances, tmp_path):
    ids = [inst["instance_id"] for inst in instances[6:9]]
    code = RUNNER.format(ids=ids, ruleset=MARKER, url=llm.base_url, runs=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_DIR, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(tmp_path.glob("*/*/agent.json")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert wait_until_gone(str(tmp_path)) == []  # the killed run's agent, if one was mid-run, follows it
    finished = {p.parent.parent.name for p in tmp_path.glob("*/*/agent.json")}
    assert 1 <= len(finished) < 3

    before = len(llm.chat_requests())
    df = _run(llm, ids, tmp_path, workers=1)
    new_requests = llm.chat_requests()[before:]
    asked_about = {task_of(r, instances)["instance_id"] for r in new_requests}
    assert asked_about == set(ids) - finished
    assert (df["pass_or_fail"] == "pass").all()


def test_claude_code_adapter_when_installed(instances, tmp_path):
    """Claude Code through the same gateway, against the scripted server's Anthropic Messages endpoint:
    its patch passes and the ruleset reached its system prompt."""
    agent = ClaudeCodeAgent("claude-sonnet-4-5")
    if not agent.binary.exists():
        pytest.skip(f"Claude Code is not installed ({agent.binary}); `make setup` installs it from package.json")
    inst = instances[1]

    def script(request):
        if turn(request) == 0:
            command = f"git apply <<'PATCH'\n{inst['patch']}PATCH"
            return Reply(tool_calls=[ToolCall("Bash", {"command": command, "description": "apply the fix"})])
        return Reply(content="I fixed the bug.")

    with ScriptedLLM(script, models=CLAUDE_MODELS, api_key="test-key") as llm:
        df = _run(llm, [inst["instance_id"]], tmp_path, agent=agent, model="claude-sonnet-4-5", api="anthropic")
        logged = [r for r in llm.requests if r["path"].split("?")[0].endswith("/messages")]
        requests = [r["body"] for r in logged]
    assert {tuple(r["auth"]) for r in logged} == {("x-api-key",)}  # Anthropic's header only, never a Bearer
    row = df.iloc[0]
    assert row["pass_or_fail"] == "pass", (row["error"], row["score_reason"])
    assert row["rules_applied"] and row["llm_calls"] == len(requests) >= 2
    assert all(MARKER in system_prompt(r) for r in requests)
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0


def test_an_endless_agent_is_stopped_at_the_request_cap(llm, behaviours, instances, tmp_path):
    endless = ScriptedLLM(
        lambda request: Reply(tool_calls=[ToolCall("run_commands", {"commands": ["ls"]})]), models={"scripted-model"}
    )
    with endless:
        df = _run(endless, [instances[4]["instance_id"]], tmp_path, max_requests=4)
        assert len(endless.chat_requests()) == 4
    row = df.iloc[0]
    # the agent kept going past the cap: its own outcome, scored and learned from (not an infrastructure error)
    assert row["outcome"] == "unresolved" and "request cap of 4" in row["error"] and row["llm_calls"] == 4


def test_the_global_rate_limit_is_never_exceeded(tmp_path):
    """64 clients through one gateway: in no window of the period did the server see more than the limit."""
    import threading

    import httpx

    from cookbook.llm.gateway import Gateway
    from cookbook.llm.rate_limit import RateLimiter

    limit, period = 5, 3.0
    with (
        ScriptedLLM(lambda r: Reply(content="ok"), models={"m"}) as llm,
        Gateway(Endpoint(llm.base_url, "k", "m"), rate_limiter=RateLimiter(requests=limit, period_s=period)) as gateway,
    ):
        url = gateway.register("limited", tmp_path / "t.jsonl")

        def client():
            httpx.post(
                f"{url}/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                timeout=60,
            )

        threads = [threading.Thread(target=client) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        times = sorted(r["time"] for r in llm.requests)
    assert len(times) == 12
    # the gateway admits by its own clock; the server stamps on arrival, up to a few hundred ms later on a
    # loaded machine, so the server-side window is taken a little shorter than the period
    window = period * 0.9
    assert max(sum(1 for u in times if t <= u < t + window) for t in times) <= limit
    assert times[-1] - times[0] >= period * (12 // limit) * 0.9  # it did wait, not refuse
