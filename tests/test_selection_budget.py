"""Best-ruleset selection, repeats with pass@k, budgets — the loop against the scripted demo server."""

import json

import pandas as pd
import pytest
from conftest import run_notebook

from cookbook.loop import run_paths
from cookbook.loop.selection import select_best
from cookbook.loop.stopping import AnyOf, Budget, Patience, loops_without_improvement


def test_selection_uses_validation_never_test():
    table = pd.DataFrame(
        {
            "loop": [0, 1, 2],
            "train_accuracy": [0.2, 0.9, 0.5],
            "validation_accuracy": [0.5, 0.4, 0.6],
            "test_accuracy": [0.3, 0.9, 0.5],
        }
    )
    assert select_best(table) == 2  # loop 1 is better on test (and train) but worse on validation
    assert select_best(table.drop(columns="validation_accuracy")) == 1  # no validation split: train
    tie = pd.DataFrame({"loop": [0, 1], "train_accuracy": [0.5, 0.5]})
    assert select_best(tie) == 0


def test_early_stopping_counts_loops_since_the_best_on_validation():
    table = pd.DataFrame(
        {"loop": [0, 1, 2, 3], "train_accuracy": [0.1, 0.2, 0.3, 0.4], "validation_accuracy": [0.3, 0.5, 0.4, 0.5]}
    )
    assert loops_without_improvement(table) == 2  # best is loop 1 (ties go to the earlier loop)
    assert loops_without_improvement(table.head(2)) == 0


def test_stop_rules_give_their_reason_and_combine():
    history = pd.DataFrame(
        {"loop": [0, 1, 2], "train_accuracy": [0.5, 0.4, 0.3], "agent_tokens": [100, 100, 100], "judge_tokens": [0] * 3}
    )
    assert Budget(1_000)(history) is None
    assert Budget(350)(history).startswith("budget: 300 tokens spent")
    assert Budget(0.5, "usd")(history) is None  # no cost recorded
    assert Patience(2)(history).startswith("early stopping") and Patience(3)(history) is None
    assert AnyOf((Patience(3), Budget(350)))(history).startswith("budget:")
    assert AnyOf(())(history) is None


@pytest.mark.slow
def test_attempts_give_pass_rates_and_pass_at_3_and_a_budget_stops_before_the_next_loop(offline, run_name, tmp_path):
    parameters = dict(
        RUN_NAME=run_name, TRAIN_SIZE=2, TEST_SIZE=2, LOOPS=3, WORKERS=4, ATTEMPTS=3, BUDGET_TOKENS=1, PHOENIX=False
    )
    parameters["AGENT_RUNS_DIR"] = str(tmp_path / "agent_runs")
    run_notebook(tmp_path / "out.ipynb", **parameters)
    run_dir, rulesets_dir = run_paths(run_name)
    stopped = json.loads((run_dir / "stopped.json").read_text())
    assert stopped["before_loop"] == 1 and stopped["reason"].startswith("budget:")  # loop 0 ran, then the budget
    assert (rulesets_dir / "ruleset_0.txt").exists() and not (rulesets_dir / "ruleset_1.txt").exists()
    results = pd.read_csv(run_dir / "test_results_0.csv")
    assert len(results) == 6 and sorted(results["attempt"].unique()) == [0, 1, 2]
    per_instance = pd.read_csv(run_dir / "test_per_instance_0.csv")
    assert list(per_instance["attempts"]) == [3, 3] and "pass@3" in per_instance
    assert ((per_instance["pass_rate"] >= 0) & (per_instance["pass_rate"] <= 1)).all()
    report = json.loads((run_dir / "report.json").read_text())
    assert report["best_loop"] == 0 and report["chosen_on"] == "train"
