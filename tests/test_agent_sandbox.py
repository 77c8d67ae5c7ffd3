"""The agent lives in its sandbox: on the docker testbed the instance's container — its shell, its Python,
its files, no Docker socket, no network but the gateway —, on the local testbed namespaces of its own; in
both, no process it can see holds a provider key, and the gateway answers it nothing but its model API.

The real Cline and Claude Code binaries probe from inside, as an agent would, while the run's own process
holds the key in its environment (as a user's CLI run does); what they saw reaches the scripted model in
their next request, where the test reads it."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import leftover_containers

from cookbook.paths import PROJECT_DIR
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, turn

pytestmark = pytest.mark.slow

KEY = "sk-proj-4f9c2e7a1b8d3c6e5f0a9b2c7d4e1f8a3b6c9d2e"
CLAUDE_MODELS = {"claude-sonnet-4-5", "claude-haiku-4-5-20251001", "claude-3-5-haiku-20241022"}
# what every process it can see holds in its environment, in a few lines: its PATHs and any *_KEY variable
ENVIRON = r"cat /proc/*/environ | tr '\0' '\n' | grep -a -e '_KEY=' -e '^PATH=' | sort | uniq -c"
LOOK = ["pwd", ENVIRON, "ls -l /var/run/docker.sock", 'python -c "import sys; print(sys.executable)"']

# Written by the agent to /tmp/probe.py (an absolute path outside the workspace) and run from there: the
# network (addresses filled in by the test) and the gateway (its URL read from the agent's own settings).
PROBE = """
import glob, http.client, os, re, socket
HOME = os.path.dirname(os.environ["CLINE_DIR"])  # the agent's home: its settings hold its gateway URL
def connect(host, port):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, port))
        return "connected"
    except OSError as e:
        return "unreachable " + type(e).__name__
    finally:
        s.close()
for name, host, port in TARGETS:
    print("NET", name, connect(host, port))
settings = " ".join(open(p).read() for p in glob.glob(HOME + "/**/*.json", recursive=True))
host, port, base = re.search(r"http://(127.0.0.1):(\\d+)(/runs/[A-Za-z0-9_-]+/v1)", settings).groups()
asks = [("files", "GET", base + "/files"), ("upload", "POST", base + "/files"),
        ("bogus", "POST", "/runs/bogus/v1/chat/completions"), ("escape", "POST", base + "/../../admin/secret")]
for name, method, path in asks:
    gateway = http.client.HTTPConnection(host, int(port), timeout=10)
    gateway.request(method, path, body="{}", headers={"Content-Type": "application/json"})
    print("GATEWAY", name, gateway.getresponse().status)
print("RAN FROM /tmp")
"""


def probing_model(instances, probe: str):
    """Cline's model: look around, write the probe to /tmp and run it, then apply the gold fix."""

    def script(request):
        inst, n = task_of(request, instances), turn(request)
        if inst is None:
            return Reply(content="I could not identify the task.")
        steps = [
            [ToolCall("run_commands", {"commands": LOOK})],
            [ToolCall("editor", {"path": "/tmp/probe.py", "new_text": probe})],
            [ToolCall("run_commands", {"commands": ["python /tmp/probe.py"]})],
            patch_as_tool_calls(inst["patch"], request),
        ]
        return Reply(tool_calls=steps[n]) if n < len(steps) else Reply(content="I fixed the bug.")

    return script


RUNNER = """
import json, sys
from cookbook.seams import Endpoint
from run_act import run_act
agent, harness, iid, url, model, api, runs = sys.argv[1:]
df = run_act("bundled", [iid], "probe", "", workers=1, agent=agent, harness=harness, timeout=300, progress=False,
             endpoint=Endpoint(url, {key!r}, model, api), runs_dir=runs)
print(json.dumps(df.to_dict("records"), default=str))
"""


def run_with_the_key_in_its_environment(llm, agent, harness, inst, tmp_path, model="scripted-model", api="openai"):
    """run_act in a process of its own started with the provider key in its environment; its rows."""
    command = [sys.executable, "-c", RUNNER.format(key=KEY), agent, harness, inst["instance_id"], llm.base_url]
    env = {**os.environ, "OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": KEY}
    done = subprocess.run(
        [*command, model, api, str(tmp_path / "runs")], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def what_the_agent_saw(llm) -> str:
    """Every tool result of the run's conversation, as the model received it (the text in Cline's JSON)."""
    last = max(llm.chat_requests(), key=lambda r: len(r["messages"]))
    return "\n".join(texts([m["content"] for m in last["messages"] if m.get("role") == "tool"]))


def texts(value) -> list[str]:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        return [value] if isinstance(parsed, str | int | float | None) else texts(parsed)
    if isinstance(value, list | dict):
        return [text for item in (value.values() if isinstance(value, dict) else value) for text in texts(item)]
    return []


@pytest.fixture
def host_listener():
    """A port of this machine open on every address, and this machine's address on its network."""
    server = socket.create_server(("0.0.0.0", 0))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(("10.255.255.1", 9))  # no packet is sent: this only picks the outward interface's address
    address = probe.getsockname()[0]
    probe.close()
    yield address, server.getsockname()[1]
    server.close()


def test_on_the_docker_testbed_cline_lives_in_the_instances_container(docker_engine, bundled, host_listener, tmp_path):
    instances = bundled.to_dict("records")
    inst = instances[1]
    with ScriptedLLM(lambda r: Reply(content="-"), models={"scripted-model"}, api_key=KEY) as llm:
        address, port = host_listener
        targets = [
            ("upstream", "127.0.0.1", llm.port),  # the model endpoint itself, on this machine's loopback
            ("host", address, port),  # a port of this machine open on every address
            ("bridge", "172.17.0.1", port),  # Docker's default bridge
            ("outside", "1.1.1.1", 443),
            ("private", "10.255.255.1", 80),
        ]
        llm.script = probing_model(instances, f"TARGETS = {targets!r}\n{PROBE}")
        rows = run_with_the_key_in_its_environment(llm, "cline", "docker", inst, tmp_path)
        saw, received = what_the_agent_saw(llm), list(llm.received)
    row = rows[0]
    assert row["outcome"] == "resolved", (row["error"], row["score_reason"])  # and then it fixed the bug
    assert "/testbed" in saw.splitlines()  # pwd
    assert "/opt/venv/bin/python" in saw  # the environment's Python
    assert "cannot access '/var/run/docker.sock': No such file or directory" in saw
    assert "PATH=/opt/venv/bin:" in saw and KEY not in saw  # it read the environments it can see: no key
    assert "RAN FROM /tmp" in saw  # a script at an absolute path outside the workspace runs
    for name, _, _ in targets:
        assert f"NET {name} unreachable" in saw
    for name in ("files", "upload", "bogus", "escape"):
        assert f"GATEWAY {name} 403" in saw
    assert set(received) <= {"POST /v1/chat/completions", "GET /v1/models"}  # nothing else reached the upstream
    record = json.loads(next((tmp_path / "runs").rglob("agent.json")).read_text())
    assert record["forbidden_requests"] == 3  # its own run's refusals ("bogus" named no run)
    assert leftover_containers() == []


def test_on_the_local_testbed_cline_sees_no_other_process(bundled, tmp_path):
    instances = bundled.to_dict("records")
    inst = instances[4]
    machines = Path("/tmp/probe.py")  # another run's (or anyone's) file at the path the agent writes to
    mine = not machines.exists()
    if mine:
        machines.write_text("raise SystemExit('the machine\\'s /tmp')\n")
    before = machines.read_text()
    try:
        with ScriptedLLM(lambda r: Reply(content="-"), models={"scripted-model"}, api_key=KEY) as llm:
            llm.script = probing_model(instances, f"TARGETS = []\n{PROBE}")  # this machine's network: not cut off
            rows = run_with_the_key_in_its_environment(llm, "cline", "local", inst, tmp_path)
            saw, received = what_the_agent_saw(llm), list(llm.received)
        after = machines.read_text()
    finally:
        if mine:
            machines.unlink()
    row = rows[0]
    assert row["outcome"] == "resolved", (row["error"], row["score_reason"])
    assert "PATH=" in saw and KEY not in saw  # the run's own process, with the key, is not to be seen
    assert "RAN FROM /tmp" in saw and "already exists" not in saw  # its own /tmp: written, run, not refused
    assert after == before  # and the machine's /tmp untouched
    for name in ("files", "upload", "bogus", "escape"):
        assert f"GATEWAY {name} 403" in saw
    assert set(received) <= {"POST /v1/chat/completions", "GET /v1/models"}


def claude_code_model(inst):
    """Claude Code's model: look around with its Bash tool, then apply the gold fix."""

    def script(request):
        if not request.get("tools"):  # a side request (a title, a summary)
            return Reply(content="Fixing a bug")
        if turn(request) == 0:
            look = "; ".join(LOOK)
            return Reply(tool_calls=[ToolCall("Bash", {"command": look, "description": "look around"})])
        if turn(request) == 1:
            command = f"git apply <<'PATCH'\n{inst['patch']}PATCH"
            return Reply(tool_calls=[ToolCall("Bash", {"command": command, "description": "apply the fix"})])
        return Reply(content="I fixed the bug.")

    return script


def test_on_the_docker_testbed_claude_code_lives_in_the_instances_container(docker_engine, bundled, tmp_path):
    inst = bundled.iloc[7].to_dict()
    with ScriptedLLM(claude_code_model(inst), models=CLAUDE_MODELS, api_key=KEY) as llm:
        rows = run_with_the_key_in_its_environment(
            llm, "claude-code", "docker", inst, tmp_path, model="claude-sonnet-4-5", api="anthropic"
        )
        requests = [r["body"] for r in llm.requests if r["path"].split("?")[0].endswith("/messages")]
        received = list(llm.received)
    row = rows[0]
    assert row["outcome"] == "resolved", (row["error"], row["score_reason"])
    saw = "\n".join(texts(max(requests, key=lambda r: len(r["messages"]))["messages"]))
    assert "/testbed" in saw.splitlines() and "/opt/venv/bin/python" in saw.splitlines()
    assert "cannot access '/var/run/docker.sock': No such file or directory" in saw
    assert "PATH=/opt/venv/bin:" in saw and KEY not in saw
    assert all(line.split()[1].startswith("/v1/messages") for line in received if line.startswith("POST"))
    assert leftover_containers() == []


def test_a_runs_own_tmp_keeps_the_folders_under_the_machines_tmp_it_was_given(tmp_path):
    """A clone under /tmp (its workspaces there too): the run starts in its workspace and reads its folders,
    while what it writes to /tmp stays in its own /tmp and the machine's /tmp is not touched."""
    from cookbook.testbeds.namespaces import Namespaces

    assert str(tmp_path).startswith("/tmp/")
    workspace, own = tmp_path / "workspaces" / "w", tmp_path / "workspaces" / "w.home" / "tmp"
    workspace.mkdir(parents=True)
    (workspace / "code.py").write_text("X = 1\n")
    script = "pwd; cat code.py; echo mine > /tmp/probe-of-this-test; cat /tmp/probe-of-this-test"
    argv, env = Namespaces(tmp=own).command(["sh", "-c", script], dict(os.environ), workspace)
    done = subprocess.run(argv, env=env, cwd=workspace, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(workspace), "X", "=", "1", "mine"]
    assert (own / "probe-of-this-test").read_text() == "mine\n"
    assert not Path("/tmp/probe-of-this-test").exists()
