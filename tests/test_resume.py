"""Runs that survive real operations: a run is what changes its results, so its operational settings may
change when it is continued (recorded per loop), `--resume` takes the flags it is given, agent runs are
found again by what made them (another loop, another run name), and a run made with real models is never
continued by the offline demo's scripted ones — with the CLI, the real Cline and a strict scripted server
playing OpenAI's models."""

import json
import os
import subprocess
import sys

import pytest
from conftest import logged_requests

from cookbook.llm.endpoints import provider_variables
from cookbook.llm.messages import system_prompt
from cookbook.loop import LoopConfig, read_ruleset_file, run_paths
from cookbook.paths import PROJECT_DIR
from cookbook.scripted.demo import DemoScript
from cookbook.scripted.server import ScriptedLLM

pytestmark = pytest.mark.slow

KEY = "sk-resume-test"


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cookbook", "run", *args]
    return subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900)


def agent_requests(log) -> list[dict]:
    return [body for body in logged_requests(log) if body.get("tools")]


def test_identity_is_what_changes_results_and_operational_settings_do_not_name_a_new_run():
    base = {"train_size": 2, "test_size": 2, "loops": 1, "workers": 2, "phoenix": False}
    operational = {"loops": 5, "workers": 1, "phoenix": True, "max_error_share": 0.5, "budget_tokens": 10**6}
    operational |= {"requests_per_minute": 30, "patience": 2, "agent_runs_dir": "/elsewhere"}
    name = LoopConfig.parse(base).named().run_name
    assert LoopConfig.parse(base | operational).named().run_name == name
    assert LoopConfig.parse(base).differences(LoopConfig.parse(base | operational)) == []
    for changed in ({"train_size": 3}, {"seed": 1}, {"timeout_s": 60}, {"agent_model": "gpt-5"}, {"attempts": 2}):
        assert LoopConfig.parse(base | changed).named().run_name != name, changed
    offline = LoopConfig.parse(base | {"agent_model": "gpt-4.1"}).named(offline=True)
    assert (offline.agent_model, offline.judge_model, offline.optimizer_model) == ("demo-model",) * 3
    assert offline.run_name.startswith("offline-bundled-demo-model-")


def test_a_resume_takes_its_flags_runs_only_the_next_loop_and_needs_the_keys_it_was_made_with(
    bundled, run_name, tmp_path
):
    log = tmp_path / "requests.jsonl"
    runs = str(tmp_path / "agent_runs")
    clean = {k: v for k, v in os.environ.items() if k not in provider_variables() and not k.endswith("_MODEL")}
    with ScriptedLLM(
        DemoScript(bundled.to_dict("records")), models={"gpt-4.1", "gpt-5"}, api_key=KEY, log_path=log
    ) as llm:
        keys = {**clean, "OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": KEY}
        sizes = ("--train-size", "2", "--test-size", "2", "--phoenix", "false", "--agent-runs-dir", runs)
        first = cli("--run-name", run_name, "--loops", "1", "--workers", "2", *sizes, env=keys)
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
        assert "Passed unknown parameter" not in first.stdout + first.stderr  # every setting is the notebook's
        run_dir, rulesets_dir = run_paths(run_name)
        written = {name: (run_dir / name).read_bytes() for name in ("config.json", "notebook.ipynb")}
        sent = len(logged_requests(log))

        # the same resume without the key: one line, no request, nothing written
        resume = ("--run-name", run_name, "--resume", "--loops", "2", "--workers", "3")
        refused = cli(*resume, env=clean)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert refused.stderr.startswith("ConfigurationError: Run ") and "made with real models" in refused.stderr
        assert "agent gpt-4.1, judge gpt-5, optimizer gpt-5" in refused.stderr and "OPENAI_API_KEY" in refused.stderr
        assert len(logged_requests(log)) == sent
        assert {name: (run_dir / name).read_bytes() for name in written} == written

        # with the key, the flags it is given: loop 1 only, three at once
        resumed = cli(*resume, env=keys)
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        _, _, rule = read_ruleset_file(rulesets_dir / "ruleset_0.txt")
        after_resume = [r for r in logged_requests(log)[sent:] if r.get("tools")]
        assert rule.strip() and after_resume and all(rule.strip() in system_prompt(r) for r in after_resume)
        assert len(list((tmp_path / "agent_runs").glob("*/*/agent.json"))) == 8  # 4 per loop, none twice
        workers = [json.loads(json.loads((run_dir / f"loop_{n}.json").read_text())["operational"])["workers"]
                   for n in (0, 1)]  # fmt: skip
        assert workers == [2, 3] and json.loads((run_dir / "config.json").read_text())["workers"] == 3

        # another run name with the same inputs and other operational settings: loop 0 is found, not paid
        before = len(agent_requests(log))
        other = cli("--loops", "1", "--workers", "1", *sizes, env=keys)
        other_name = LoopConfig.parse({"train_size": 2, "test_size": 2, "phoenix": False}).named().run_name
    try:
        assert other.returncode == 0, other.stdout[-2000:] + other.stderr[-2000:]
        assert f"act_results/{other_name}" in other.stdout and other_name != run_name
        assert len(agent_requests(log)) == before
    finally:
        for path in run_paths(other_name):
            subprocess.run(["rm", "-rf", str(path)], check=False)
