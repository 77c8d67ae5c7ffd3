"""Infrastructure failures are not the agent's: they are checked for before paid work, never stored as
results, never judged or learned from, and nothing is left running or leaked — with the real Cline, the
real notebook and the scripted server."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import papermill
import pytest
from conftest import logged_requests, run_notebook, wait_until_gone

from cookbook.circuit_breaker import CircuitBreaker, InfrastructureFailure
from cookbook.llm.endpoints import provider_variables
from cookbook.loop import LoopConfig, OptimizationRun, run_paths
from cookbook.paths import PROJECT_DIR
from cookbook.scripted.demo import DemoScript
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, turn
from cookbook.seams import Endpoint
from cookbook.workspaces.checkout import sweep_stale_workspaces
from run_act import run_act

pytestmark = pytest.mark.slow

SECRET = "sk-cookbook-test-0123456789-SECRET"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def gold_script(instances):
    def script(request):
        inst = task_of(request, instances)
        if turn(request) == 0:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
        return Reply(content="I fixed the bug.")

    return script


@pytest.fixture(scope="module")
def instances(bundled):
    return bundled.to_dict("records")


def test_a_missing_agent_model_stops_the_notebook_before_the_judge_and_names_it(
    offline, run_name, monkeypatch, tmp_path
):
    """The agent's model answers 404 model_not_found: the preflight names it; no judge or optimizer request,
    no agent run, no ruleset, no run files."""

    # the strict scripted server answers 404 model_not_found for a model it does not serve, as OpenAI does
    with ScriptedLLM(lambda r: Reply(content="OK"), models={"gpt-5"}, log_path=tmp_path / "requests.jsonl") as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "k-test-key")
        parameters = dict(
            RUN_NAME=run_name, TRAIN_SIZE=2, TEST_SIZE=2, LOOPS=1, AGENT_MODEL="missing-model-x", PHOENIX=False
        )
        with pytest.raises(papermill.PapermillExecutionError) as error:
            run_notebook(tmp_path / "out.ipynb", **parameters)
        models = [body.get("model") for body in logged_requests(tmp_path / "requests.jsonl")]
    assert error.value.ename == "PreflightError" and "missing-model-x" in error.value.evalue
    assert "AGENT_MODEL" in error.value.evalue
    assert models == ["missing-model-x"]  # one ping; no agent run, no judge, no optimizer
    run_dir, rulesets_dir = run_paths(run_name)
    assert not run_dir.exists() and not rulesets_dir.exists()


def test_a_closed_port_is_a_clear_cli_error_and_stores_no_row(run_name, monkeypatch, tmp_path):
    env = {**os.environ, "OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1", "OPENAI_API_KEY": "k-test-key"}
    command = [sys.executable, "-m", "cookbook", "run", "--run-name", run_name, "--train-size", "2"]
    command += ["--test-size", "2", "--loops", "1", "--phoenix", "false"]
    command += ["--agent-runs-dir", str(tmp_path / "agent_runs")]  # where a stored row would be
    start = time.monotonic()
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    print(f"closed port: the CLI stopped after {time.monotonic() - start:.1f} s")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("PreflightError: preflight: the agent's endpoint") and "not reachable" in last, done.stderr
    assert "Traceback" not in done.stderr
    run_dir, _ = run_paths(run_name)
    assert not (tmp_path / "agent_runs").exists() and not (run_dir / "config.json").exists()


def test_runs_that_met_a_dead_endpoint_are_not_stored_and_run_again_once_it_is_back(instances, tmp_path):
    ids = [instances[0]["instance_id"], instances[1]["instance_id"]]
    dead = Endpoint(f"http://127.0.0.1:{closed_port()}/v1", "k-test-key", "scripted-model")
    options = dict(workers=2, timeout=120, progress=False, runs_dir=tmp_path)
    failed = run_act("bundled", ids, "dead", "", endpoint=dead, **options)
    assert failed["outcome"].tolist() == ["error", "error"] and set(failed["error_kind"]) == {"endpoint"}
    assert failed["pass_or_fail"].tolist() == ["", ""]
    assert not list(tmp_path.glob("*/*/agent.json"))  # nothing stored as if the agent had failed

    with ScriptedLLM(gold_script(instances), models={"scripted-model"}) as llm:
        again = run_act(
            "bundled", ids, "back", "", endpoint=Endpoint(llm.base_url, "k-test-key", "scripted-model"), **options
        )
        asked = {task_of(r, instances)["instance_id"] for r in llm.chat_requests()}
    assert asked == set(ids) and again["outcome"].tolist() == ["resolved", "resolved"]


def test_an_endpoint_that_fails_mid_run_stops_the_agent_and_trips_the_circuit_breaker(instances, tmp_path):
    """404 for the agent's model once runs are under way: the agents stop at once, every row is the model's
    error (never the agent's), and the loop's circuit breaker names it."""
    ids = [inst["instance_id"] for inst in instances[:3]]
    gone = Reply(status=404, error_code="model_not_found", content="The model `gone-model` does not exist.")
    with ScriptedLLM(lambda r: gone, models={"gone-model"}) as llm:
        df = run_act(
            "bundled",
            ids,
            "gone",
            "",
            3,
            endpoint=Endpoint(llm.base_url, "k", "gone-model"),
            runs_dir=tmp_path,
            timeout=120,
            progress=False,
        )
    assert set(df["outcome"]) == {"error"} and set(df["error_kind"]) == {"model"}
    assert (df["llm_calls"] <= 2).all()  # stopped at the first fatal answer, not retried for a minute
    breaker = CircuitBreaker(0.2, {"train": 3})  # the loop's (run_act's max_error_share), over the whole split
    for row in df.to_dict("records"):
        breaker.record("train", row)
    with pytest.raises(InfrastructureFailure) as failure:
        breaker.check("train")
    assert "train: 3 of 3 runs" in str(failure.value) and "(3x), model:" in str(failure.value)
    assert "gone-model" in str(failure.value)


def test_an_agent_that_runs_env_sees_no_provider_key(instances, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("MY_TEAM_LLM_KEY", SECRET)  # a credential under a name of the user's own
    inst = instances[2]

    def script(request):
        if turn(request) == 0:
            return Reply(tool_calls=[ToolCall("run_commands", {"commands": ["env | tee env.txt"]})])
        return Reply(content="Done.")

    with ScriptedLLM(script, models={"scripted-model"}) as llm:
        df = run_act(
            "bundled",
            [inst["instance_id"]],
            "env",
            "- a rule\n",
            endpoint=Endpoint(llm.base_url, SECRET, "scripted-model"),
            runs_dir=tmp_path / "runs",
            timeout=120,
            progress=False,
        )
        requests = json.dumps(llm.requests)
    row = df.iloc[0]
    assert "env.txt" in row["cline_patch"] and "PATH=" in row["cline_patch"]  # the agent did run env
    assert "MY_TEAM_LLM_KEY" not in requests and "OPENAI_API_KEY" not in row["cline_patch"]
    assert SECRET not in requests  # nothing the model received
    assert SECRET not in df.to_csv()
    written = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    assert written and not [p for p in written if SECRET.encode() in p.read_bytes()]  # nothing written to disk


RUNNER = """
import faulthandler, signal
faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks for every thread's stack if it hangs
from cookbook.seams import Endpoint
from run_act import run_act
run_act("bundled", {ids!r}, "killed", "", workers=2, endpoint=Endpoint({url!r}, "k", "scripted-model"),
        runs_dir={runs!r}, timeout=300, progress=False)
"""


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGINT])
def test_a_killed_or_interrupted_run_leaves_no_agent_and_stores_nothing(instances, tmp_path, signal_number):
    ids = [inst["instance_id"] for inst in instances[3:5]]
    with ScriptedLLM(lambda request: Reply(hang=True), models={"scripted-model"}) as llm:
        code = RUNNER.format(ids=ids, url=llm.base_url, runs=str(tmp_path))
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_DIR)
        deadline = time.monotonic() + 120
        while len(llm.chat_requests()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(llm.chat_requests()) >= 2, "the agents never reached the model"
        os.kill(proc.pid, signal_number)  # the run_act process alone: its agents are in sessions of their own
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # where it hangs, in the captured stderr, then the failure
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(3)
            proc.kill()
            raise
        assert wait_until_gone(str(tmp_path)) == []
    assert not list(tmp_path.glob("*/*/agent.json"))


def test_stale_workspaces_of_dead_processes_are_swept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"bundled__inikit-101-pid{dead.pid}-abc123"
    mine = tmp_path / f"bundled__inikit-101-pid{os.getpid()}-def456"
    other = tmp_path / "bundled__inikit-101-abc123"  # not named by a process: never swept
    for path in (stale, mine, other):
        (path / "src").mkdir(parents=True)
    assert sweep_stale_workspaces(tmp_path) == 1
    assert not stale.exists() and mine.exists() and other.exists()


def test_a_run_name_with_another_configuration_is_refused_with_the_differences(offline, run_name):
    config = LoopConfig.parse({"run_name": run_name, "train_size": 2, "test_size": 2}).named(offline=True)
    OptimizationRun(config).begin()
    config_file = run_paths(run_name)[0] / "config.json"
    before = config_file.read_bytes()
    command = [sys.executable, "-m", "cookbook", "run", "--run-name", run_name, "--train-size", "3", "--test-size", "2"]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "train_size: 2 → 3" in done.stderr and "--resume" in done.stderr
    assert config_file.read_bytes() == before  # never a silent swap, nothing rewritten


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--loops", "0"], "loops = 0"),
        (["--workers", "0"], "workers = 0"),
        (["--train-size", "0"], "train_size = 0"),
        (["--train-size", "10", "--test-size", "10"], "the dataset has 15 instances"),
        (["--validation-size", "3", "--train-size", "3"], "must leave at least one training instance"),
        (["--config", "{config}"], "did you mean 'train_size'"),
    ],
)
def test_a_bad_configuration_stops_with_its_message_and_leaves_no_file(run_name, tmp_path, flags, message):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"train_szie": 3}))
    flags = [f.format(config=config) for f in flags]
    command = [sys.executable, "-m", "cookbook", "run", "--run-name", run_name, *flags]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2
    assert not any(path.exists() for path in run_paths(run_name))


def test_phoenix_collects_on_loopback_only(phoenix_server):
    """The gRPC collector of the local Phoenix listens on 127.0.0.1 only (its HTTP server too)."""
    url, working_dir = phoenix_server
    state = json.loads((working_dir / "server.json").read_text())
    ports = {int(url.rsplit(":", 1)[1]), state["grpc_port"]}
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state_code = line.split()[1], line.split()[3]
            if state_code == "0A" and int(local.rsplit(":", 1)[1], 16) in ports:  # LISTEN on one of its ports
                listening.append(local.rsplit(":", 1)[0])
    assert len(listening) == 2
    assert set(listening) <= {"0100007F", "0000000000000000FFFF00000100007F"}, listening  # 127.0.0.1 only


def test_a_configured_phoenix_that_is_down_is_one_clear_line(offline, run_name, monkeypatch):
    env = {**os.environ, "PHOENIX_COLLECTOR_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}
    command = [sys.executable, "-m", "cookbook", "run", "--run-name", run_name, "--train-size", "2"]
    command += ["--test-size", "2", "--loops", "1"]
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("PhoenixUnavailable: Phoenix at http://127.0.0.1:")


def test_a_run_without_a_test_split_completes(offline, run_name, tmp_path):
    parameters = dict(RUN_NAME=run_name, TRAIN_SIZE=2, TEST_SIZE=0, LOOPS=1, PHOENIX=False)
    run_notebook(tmp_path / "out.ipynb", **parameters, AGENT_RUNS_DIR=str(tmp_path / "agent_runs"))
    run_dir, rulesets_dir = run_paths(run_name)
    header = (rulesets_dir / "ruleset_0.txt").read_text().splitlines()
    assert header[1] == "test_accuracy: nan" and "train_scored: 2" in header
    assert (run_dir / "train_results_0.csv").exists() and not (run_dir / "test_results_0.csv").exists()


def test_a_missing_mirror_is_named_before_any_model_is_asked_and_leaves_nothing(run_name, monkeypatch, tmp_path):
    """Local checks (the data, the mirrors, the engine) come before the models' pings: a mirror that is not
    there costs no request, and the run leaves no folder (no executed notebook) behind."""
    from user_repo import make_user_dataset

    dataset, _ = make_user_dataset(tmp_path)
    (tmp_path / "no-mirrors").mkdir()
    with ScriptedLLM(lambda r: Reply(content="OK"), models={"gpt-4.1", "gpt-5"}) as llm:
        env = {**os.environ, "OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "k-test-key"}
        command = [sys.executable, "-m", "cookbook", "run", "--run-name", run_name, "--dataset", str(dataset)]
        command += ["--repos-dir", str(tmp_path / "no-mirrors"), "--train-size", "1", "--test-size", "1"]
        command += ["--loops", "1", "--phoenix", "false", "--agent-runs-dir", str(tmp_path / "runs")]
        command += ["--harness", "local"]  # its repository installs with pip: no image to build first
        done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
        assert llm.requests == []
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1 and last.startswith("PreflightError: preflight: the local testbed can prepare 2")
    assert "No mirror of acme/calc" in last and "Traceback" not in done.stderr
    assert not any(path.exists() for path in run_paths(run_name))


def test_a_row_with_an_empty_fail_to_pass_is_not_a_task(run_name, tmp_path):
    from user_repo import make_user_dataset

    dataset, mirrors = make_user_dataset(tmp_path)
    rows = [json.loads(line) for line in dataset.read_text().splitlines()]
    rows[1]["FAIL_TO_PASS"] = "[]"  # nothing would tell a fix from no fix
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows))
    command = [sys.executable, "-m", "cookbook", "run", "--run-name", run_name, "--dataset", str(dataset)]
    command += ["--repos-dir", str(mirrors), "--train-size", "1", "--test-size", "1"]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("DatasetError: ") and "row 1 (instance_id='acme__calc-2')" in done.stderr
    assert "FAIL_TO_PASS is empty" in done.stderr and not any(path.exists() for path in run_paths(run_name))


def test_compare_refuses_one_loop_before_estimating_it():
    command = [sys.executable, "-m", "cookbook", "compare", "--run-name", "any", "--loops", "1", "--estimate"]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""  # no estimate of a command that would be refused
    assert (
        done.stderr.strip()
        == "ConfigurationError: compare: loops = 1: at least 2 (loop 1 runs the first learned ruleset)"
    )


def test_a_split_with_no_scored_run_is_recorded_and_nothing_crashes_after_the_paid_work(
    bundled, run_name, monkeypatch, tmp_path
):
    """The provider fails every request of the test split's tasks (500s, as an overloaded provider does), and
    the user tolerates it (MAX_ERROR_SHARE = 1.0): the loop is saved whole — the test split has no accuracy
    (nan, not 0), its tables are written, the report compares nothing — and nothing raises after the
    training runs were paid for."""
    for name in [*provider_variables(), "AGENT_MODEL", "JUDGE_MODEL", "OPTIMIZER_MODEL"]:
        monkeypatch.delenv(name, raising=False)
    instances = bundled.to_dict("records")
    test_ids = set(OptimizationRun(LoopConfig.parse({"train_size": 2, "test_size": 2}).named()).ids("test"))
    demo = DemoScript(instances)

    def script(request):
        task = task_of(request, instances) if request.get("tools") else None
        if task and task["instance_id"] in test_ids:
            return Reply(status=500, content="The server had an error while processing your request.")
        return demo(request)

    with ScriptedLLM(script, models={"gpt-4.1", "gpt-5"}) as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "k-test-key")
        parameters = dict(RUN_NAME=run_name, TRAIN_SIZE=2, TEST_SIZE=2, LOOPS=1, PHOENIX=False, MAX_ERROR_SHARE=1.0)
        run_notebook(tmp_path / "out.ipynb", **parameters, AGENT_RUNS_DIR=str(tmp_path / "agent_runs"))
    run_dir, rulesets_dir = run_paths(run_name)
    header = (rulesets_dir / "ruleset_0.txt").read_text().split("optimized ruleset_0:")[0].splitlines()
    assert "test_accuracy: nan" in header and "test_scored: 0" in header and "test_errors: 2" in header
    assert set(pd.read_csv(run_dir / "test_results_0.csv")["error_kind"]) == {"provider"}
    assert pd.read_csv(run_dir / "test_per_instance_0.csv").empty  # the table, with no row: none was scored
    report = json.loads((run_dir / "report.json").read_text())
    assert report["best_loop"] == 0 and report["best_vs_empty_on_test"]["instances"] == 0
