"""Comparing optimizers in one run (offline demo mode): each variant is the notebook, headless, grown from the
base run's loop-0 agent runs, which are reused (no new agent request), with paired statistics."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import logged_requests

from cookbook.llm.messages import system_prompt
from cookbook.loop import read_ruleset_file, run_paths
from cookbook.paths import PROJECT_DIR

pytestmark = pytest.mark.slow


def cli(*args, env=None):
    done = subprocess.run(
        [sys.executable, "-m", "cookbook", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def variants(run_name):
    """The variant runs' folders, removed afterwards (the base run's are removed by `run_name`)."""
    names = [f"{run_name}-cmp-rewrite-best", f"{run_name}-cmp-delta-best"]
    yield names
    for name in names:
        for path in run_paths(name):
            subprocess.run(["rm", "-rf", str(path)], check=False)


def test_compare_reuses_loop_0_and_pairs_the_variants(offline, run_name, variants, tmp_path):
    runs = ("--agent-runs-dir", str(tmp_path / "agent_runs"))  # its own; the variants keep theirs there too
    cli(
        "run",
        "--run-name",
        run_name,
        "--loops",
        "1",
        "--train-size",
        "3",
        "--test-size",
        "3",
        "--phoenix",
        "false",
        *runs,
    )
    estimate = cli("compare", "--run-name", run_name, "--loops", "2", "--selections", "best", "--estimate")
    assert "At most 2 new rulesets to run: 12 agent runs" in estimate

    log = tmp_path / "compare.jsonl"
    env = {**os.environ, "COOKBOOK_DEMO_REQUEST_LOG": str(log)}
    printed = cli(
        "compare", "--run-name", run_name, "--loops", "2", "--modes", "rewrite,delta", "--selections", "best", env=env
    )
    assert "rewrite/best" in printed and "delta/best" in printed

    # loop 0 of every variant is the base run's: no agent request without a learned rule
    agent_requests = [body for body in logged_requests(log) if body.get("tools")]
    _, _, rule = read_ruleset_file(run_paths(run_name)[1] / "ruleset_0.txt")
    assert rule.strip() and agent_requests and all(rule.strip() in system_prompt(r) for r in agent_requests)

    table = pd.read_csv(run_paths(run_name)[0] / "comparison.csv")
    assert table["variant"].tolist() == ["rewrite/best", "delta/best"]
    # rewrite's loop 1 ran its learned ruleset (6 new runs); delta learned the same text: the same runs, reused
    assert table["new_agent_runs"].tolist() == [6, 0]
    assert (table["loops"] == 2).all() and table["vs_empty_p"].between(0, 1).all()
    assert table.loc[1, "vs_reference_fixed"] == table.loc[1, "vs_reference_broken"] == 0
    assert (table["best_test_accuracy"] >= table["last_test_accuracy"].min()).all()
    variant = json.loads((run_paths(variants[1])[0] / "config.json").read_text())
    assert variant["agent_runs_dir"] == str(tmp_path / "agent_runs")  # the base run's store, found by inputs
