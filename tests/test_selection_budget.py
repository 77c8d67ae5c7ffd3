"""Best-ruleset selection, repeats with pass@k, budgets — the loop against the scripted demo server."""

import json

import pandas as pd
import pytest

from loop import LoopConfig, loops_without_improvement, run_loop, select_best
from offline_demo import start_demo_server


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


@pytest.mark.slow
def test_attempts_give_pass_rates_and_pass_at_3_and_a_budget_stops_before_the_next_loop(bundled, tmp_path):
    server = start_demo_server(bundled.to_dict("records"))
    try:
        config = LoopConfig(
            run_name="budget", train_size=2, test_size=2, loops=3, workers=4, attempts=3, budget_tokens=1, phoenix=False
        )
        table = run_loop(
            config,
            server.base_url,
            "demo",
            results_root=tmp_path / "results",
            rulesets_root=tmp_path / "rulesets",
            progress=False,
        )
    finally:
        server.stop()
    run_dir = tmp_path / "results" / "budget"
    assert len(table) == 1  # loop 0 ran; the budget stopped the run before loop 1
    stopped = json.loads((run_dir / "stopped.json").read_text())
    assert stopped["before_loop"] == 1 and stopped["reason"].startswith("budget:")
    assert (tmp_path / "rulesets" / "budget" / "ruleset_0.txt").exists()
    assert not (tmp_path / "rulesets" / "budget" / "ruleset_1.txt").exists()
    results = pd.read_csv(run_dir / "test_results_0.csv")
    assert len(results) == 6 and sorted(results["attempt"].unique()) == [0, 1, 2]
    per_instance = pd.read_csv(run_dir / "test_per_instance_0.csv")
    assert list(per_instance["attempts"]) == [3, 3] and "pass@3" in per_instance
    assert ((per_instance["pass_rate"] >= 0) & (per_instance["pass_rate"] <= 1)).all()
    report = json.loads((run_dir / "report.json").read_text())
    assert report["best_loop"] == 0 and report["chosen_on"] == "train"
