"""The whole cookbook end to end in offline demo mode: the notebook headless, and the CLI killed and resumed."""

import ast
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import logged_requests, run_notebook, wait_until_gone

from cookbook.llm.messages import system_prompt
from cookbook.loop import read_ruleset_file, run_paths
from cookbook.paths import PROJECT_DIR
from cookbook.phoenix import rest
from cookbook.phoenix.prompts import list_versions, prompt_name
from phoenix_experiments import phoenix_client

pytestmark = pytest.mark.slow

NOTEBOOK = PROJECT_DIR / "optimize_cline_act.ipynb"


def agent_requests(log):
    return [body for body in logged_requests(log) if body.get("tools")]


def test_the_notebook_runs_offline_end_to_end_and_a_rerun_sends_nothing(
    offline, run_name, phoenix, monkeypatch, tmp_path
):
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", phoenix)
    parameters = dict(RUN_NAME=run_name, LOOPS=2, TRAIN_SIZE=6, TEST_SIZE=6, WORKERS=4)
    parameters["AGENT_RUNS_DIR"] = str(tmp_path / "agent_runs")  # its own: no other test's runs are found
    run_notebook(tmp_path / "executed.ipynb", **parameters)
    run_dir, rulesets_dir = run_paths(run_name)
    for loop in (0, 1):
        lines = (rulesets_dir / f"ruleset_{loop}.txt").read_text().splitlines()
        assert lines[0].startswith("train_accuracy: ") and lines[1].startswith("test_accuracy: ")
        assert lines[2:8] == [
            "train_scored: 6",
            "train_errors: 0",
            "test_scored: 6",
            "test_errors: 0",
            "selection: best (on train)",  # the default policy; with one candidate, or a better one, the latest
            f"grown_from: loop {loop}",
        ]
        assert f"optimized ruleset_{loop}:" in lines and any(line.startswith("ruleset_tokens: ") for line in lines)
        for split in ("train", "test"):
            assert len(pd.read_csv(run_dir / f"{split}_results_{loop}.csv")) == 6
    _, test_0, rule = read_ruleset_file(rulesets_dir / "ruleset_0.txt")
    _, test_1, _ = read_ruleset_file(rulesets_dir / "ruleset_1.txt")
    assert rule.strip() and test_1 > test_0, (test_0, test_1)

    # the judge explained from the trajectory: what the agent did, not only what the patch lacks
    train_0 = pd.read_csv(run_dir / "train_results_0.csv")
    gave_up = train_0[train_0["cline_patch"].isna()]
    explained = gave_up["explanation"].str.startswith(
        "The agent ended after 1 LLM call without running any command or the tests"
    )
    assert len(gave_up) and explained.all()
    assert gave_up["trajectory"].str.contains("Ended: gave up").all()
    verdicts = pd.read_csv(run_dir / "train_results_1.csv")["rule_verdicts"].map(json.loads)
    assert all(v and v[0]["id"] == "r1" and v[0]["verdict"] in ("followed", "broken") for v in verdicts)

    # loop 1's agent requests carried the rule learned in loop 0; loop 0's did not
    requests = agent_requests(offline)
    with_rule = [r for r in requests if rule.strip() in system_prompt(r)]
    assert with_rule and len(with_rule) < len(requests)
    assert pd.read_csv(run_dir / "test_results_1.csv")["rules_applied"].all()

    client = phoenix_client(phoenix)
    for split in ("train", "test"):
        dataset = client.datasets.get_dataset(dataset=f"{run_name}-{split}")
        experiments = sorted(client.experiments.list(dataset_id=dataset.id), key=lambda e: e["name"])
        assert [e["name"] for e in experiments] == [f"{run_name} loop 0 {split}", f"{run_name} loop 1 {split}"]
        for experiment in experiments:  # the ruleset beside its scores, tokens and costs, a trace per run
            assert experiment["description"].startswith("Ran ") and f"{split} split" in experiment["description"]
            assert experiment["metadata"]["agent_total_tokens"] > 0 and experiment["metadata"]["scored"] == 6
            runs = client.experiments.get_experiment(experiment_id=experiment["id"])["task_runs"]
            assert len(runs) == 6 and all(r["trace_id"] for r in runs)
    with rest(phoenix) as http:  # the rulesets as a Prompt: one version per loop, holding the ruleset it ran
        versions = list(reversed(list_versions(http, prompt_name(run_name))))
        tags = [{t["name"] for t in http.get(f"v1/prompt_versions/{v['id']}/tags").json()["data"]} for v in versions]
    assert [len(versions), "loop-0" in tags[0], "loop-1" in tags[1], "learned" in tags[2]] == [3, True, True, True]
    assert rule.strip() in json.dumps(versions[1]["template"]) and rule.strip() not in json.dumps(
        versions[0]["template"]
    )
    # the ruleset the run hands over (learned in loop 1, run by no loop) is a version too, not yet scored
    _, _, handed_over = read_ruleset_file(rulesets_dir / "ruleset_1.txt")
    assert handed_over.strip() in json.dumps(versions[2]["template"]) and versions[2]["metadata"]["learned"]
    assert versions[2]["description"].startswith("learned in loop 1, not yet scored")
    # offline, the run is labelled with the model that answered, not the cookbook's defaults
    config = json.loads((run_dir / "config.json").read_text())
    assert [config[f"{role}_model"] for role in ("agent", "judge", "optimizer")] == ["demo-model"] * 3
    executed = (tmp_path / "executed.ipynb").read_text()
    assert "OFFLINE DEMO MODE" in executed and phoenix in executed
    assert "The agent ended after 1 LLM call without running any command or the tests" in executed
    assert f"compare loop 0 with loop 1 (test): {phoenix}/datasets/" in executed

    # the same notebook and run name again: everything is read back, nothing is sent to the model
    sent = len(logged_requests(offline))
    run_notebook(tmp_path / "again.ipynb", **parameters, STOP_PHOENIX_AT_END=True)
    assert len(logged_requests(offline)) == sent


def test_the_committed_notebook_has_no_outputs_and_its_cells_drive_the_loop():
    notebook = json.loads(NOTEBOOK.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "parameters" in code[0]["metadata"].get("tags", [])
    source = "".join("".join(c["source"]) for c in code)
    for call in ("run_act(", "evaluate_results(", "log_experiment_to_phoenix(", ".optimize("):
        assert call in source, call


def test_the_cells_after_the_configuration_read_config_and_run_not_the_parameters():
    """Settings leave the parameters cell one way: every upper-case setting is a LoopConfig field, the cell after
    it makes `config` from them, and no later cell reads or writes one of them (they read `config` and `run`)."""
    from cookbook.loop import LoopConfig
    from cookbook.notebook import default_parameters

    parameters = set(default_parameters())
    assert parameters == {name.upper() for name in LoopConfig.model_fields}
    code = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    assert "LoopConfig.from_parameters(globals()" in "".join(code[1]["source"])
    used = {
        node.id
        for cell in code[1:]
        for node in ast.walk(ast.parse("".join(cell["source"])))
        if isinstance(node, ast.Name) and node.id in parameters
    }
    assert used == set(), f"cells after the parameters cell use {sorted(used)}: read config.<name> instead"


def test_a_killed_cli_run_resumes_without_repeating_loop_0(offline, run_name, tmp_path):
    command = [sys.executable, "-m", "cookbook", "run", "--run-name", run_name, "--loops", "2"]
    command += ["--train-size", "3", "--test-size", "3", "--workers", "3", "--phoenix", "false"]
    command += ["--agent-runs-dir", str(tmp_path / "agent_runs")]
    run_dir, rulesets_dir = run_paths(run_name)
    log = open(tmp_path / "cli.log", "w")  # noqa: SIM115 (kept open for the killed process)
    proc = subprocess.Popen(command, cwd=PROJECT_DIR, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (rulesets_dir / "ruleset_0.txt").exists():
        assert proc.poll() is None, (
            "the CLI ended before loop 0 finished: " + (tmp_path / "cli.log").read_text()[-3000:]
        )
        time.sleep(0.5)
    time.sleep(4)  # into loop 1
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and papermill; the kernel and agents have sessions of their own
    proc.wait()
    assert wait_until_gone(str(run_dir)) == []  # the kernel follows its parent, the agents their kernel
    assert not (rulesets_dir / "ruleset_1.txt").exists()
    before = {
        name: (rulesets_dir / name if name.startswith("ruleset") else run_dir / name).read_bytes()
        for name in ("ruleset_0.txt", "train_results_0.csv", "test_results_0.csv")
    }
    finished_runs = {p: p.stat().st_mtime_ns for p in (tmp_path / "agent_runs").glob("*/*/agent.json")}
    assert len(finished_runs) >= 6  # loop 0's six runs at least

    resumed_log = tmp_path / "resumed.jsonl"
    env = {**os.environ, "COOKBOOK_DEMO_REQUEST_LOG": str(resumed_log)}
    done = subprocess.run([*command, "--resume"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for name, content in before.items():
        path = rulesets_dir / name if name.startswith("ruleset") else run_dir / name
        assert path.read_bytes() == content, name
    assert (rulesets_dir / "ruleset_1.txt").exists() and (run_dir / "test_results_1.csv").exists()
    _, _, rule = read_ruleset_file(rulesets_dir / "ruleset_0.txt")
    # every agent request after the resume belongs to loop 1: it carries loop 0's rule
    requests = agent_requests(resumed_log)
    assert requests and all(rule.strip() in system_prompt(r) for r in requests)
    assert "train_accuracy" in done.stdout + done.stderr
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "agent_runs").glob("*/*/agent.json")}
    assert len(after) == 12 and all(after[p] == mtime for p, mtime in finished_runs.items())
