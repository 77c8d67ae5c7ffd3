"""Phoenix for real: one `phoenix serve` per test session, started by the project's own code."""

import json
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from cookbook.llm.client import LLMClient
from cookbook.llm.scripted_server import Reply, ScriptedLLM
from cookbook.seams import Endpoint
from evaluate import evaluate_results
from phoenix_experiments import (
    PhoenixUnavailable,
    create_dataset,
    log_experiment_to_phoenix,
    phoenix_client,
    trace_llm_calls,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(phoenix):
    return phoenix_client(phoenix)


def results_for(instances: pd.DataFrame, attempts: int = 2) -> pd.DataFrame:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i, inst in enumerate(instances.to_dict("records")):
        for attempt in range(attempts):
            passed = (i + attempt) % 3 == 0
            rows.append(
                {
                    "instance_id": inst["instance_id"],
                    "attempt": attempt,
                    "cline_patch": f"diff for {i}/{attempt}",
                    "pass_or_fail": "pass" if passed else "fail",
                    "outcome": "resolved" if passed else "unresolved",
                    "failed_tests": [] if passed else inst["FAIL_TO_PASS"],
                    "score_reason": "",
                    "started_at": (start + timedelta(minutes=i)).isoformat(),
                    "finished_at": (start + timedelta(minutes=i, seconds=42)).isoformat(),
                    "correctness": "correct" if passed else "incorrect",
                    "explanation": f"because {i}",
                }
            )
    return pd.DataFrame(rows)


def test_datasets_are_created_read_back_and_reused(client, bundled):
    first = create_dataset(client, "cookbook-train", bundled.head(10))
    again = create_dataset(client, "cookbook-train", bundled.head(10))
    assert (again.id, again.version_id) == (first.id, first.version_id)
    read = client.datasets.get_dataset(dataset=first.id)
    assert sorted(ex["metadata"]["instance_id"] for ex in read.examples) == sorted(bundled.head(10)["instance_id"])
    example = next(iter(read.examples))
    assert set(example["metadata"]) >= {"instance_id", "repo", "test_patch"} and "problem_statement" in example["input"]
    assert [d["name"] for d in client.datasets.list()].count("cookbook-train") == 1


def test_an_experiment_of_20_rows_reads_back_whole_and_logging_twice_adds_nothing(phoenix, client, bundled):
    dataset = create_dataset(client, "cookbook-exp", bundled.head(10))
    df = results_for(bundled.head(10))
    meta = {"loop": 0, "split": "train", "agent": "cline", "model": "m", "ruleset_sha": "abc", "ruleset": "- r\n"}
    summary = log_experiment_to_phoenix(phoenix, None, dataset, "loop-0-train", df, meta)
    assert summary["runs_logged"] == 20 and summary["unknown_instances"] == []

    ran = client.experiments.get_experiment(experiment_id=summary["experiment_id"])
    assert len(ran["task_runs"]) == 20
    assert len(ran["evaluation_runs"]) == 40
    outputs = sorted(r["output"] for r in ran["task_runs"])
    assert outputs == sorted(df["cline_patch"])
    durations = {
        (r["end_time"] - r["start_time"])
        if not isinstance(r["start_time"], str)
        else (datetime.fromisoformat(r["end_time"]) - datetime.fromisoformat(r["start_time"]))
        for r in ran["task_runs"]
    }
    assert durations == {timedelta(seconds=42)}
    scores = sorted(e.result["score"] for e in ran["evaluation_runs"] if e.name == "pass_or_fail")
    assert scores.count(1.0) == int((df["pass_or_fail"] == "pass").sum())
    failing = [e for e in ran["evaluation_runs"] if e.name == "pass_or_fail" and e.result["score"] == 0.0]
    assert all(e.result["explanation"].startswith("failing tests: ") for e in failing)
    assert {e.result["label"] for e in ran["evaluation_runs"] if e.name == "correctness"} == {"correct", "incorrect"}
    stored = client.experiments.get(experiment_id=summary["experiment_id"])["metadata"]
    assert stored["accuracy"] == round((df["pass_or_fail"] == "pass").mean(), 4)
    assert stored["size"] == 20 and stored["loop"] == 0 and stored["ruleset"] == "- r\n"

    again = log_experiment_to_phoenix(phoenix, None, dataset, "loop-0-train", df, meta)
    assert again["experiment_id"] == summary["experiment_id"] and again["runs_logged"] == 0
    ran = client.experiments.get_experiment(experiment_id=summary["experiment_id"])
    assert (len(ran["task_runs"]), len(ran["evaluation_runs"])) == (20, 40)
    assert [e["name"] for e in client.experiments.list(dataset_id=dataset.id)].count("loop-0-train") == 1


def test_an_unknown_instance_is_reported_not_dropped_silently(phoenix, client, bundled):
    dataset = create_dataset(client, "cookbook-unknown", bundled.head(3))
    df = results_for(bundled.head(4), attempts=1)
    with pytest.warns(UserWarning, match="not in dataset"):
        summary = log_experiment_to_phoenix(phoenix, None, dataset, "loop-0-test", df, {"split": "test"})
    assert summary["unknown_instances"] == [bundled.iloc[3]["instance_id"]]
    assert summary["runs_logged"] == 3


def test_phoenix_down_is_a_clear_error_and_the_call_can_be_repeated(client, bundled, phoenix):
    dataset = create_dataset(client, "cookbook-down", bundled.head(2))
    df = results_for(bundled.head(2), attempts=1)
    with pytest.raises(PhoenixUnavailable, match="call log_experiment_to_phoenix again"):
        log_experiment_to_phoenix("http://127.0.0.1:9", None, dataset, "loop-1-train", df, {})
    assert log_experiment_to_phoenix(phoenix, None, dataset, "loop-1-train", df, {})["runs_logged"] == 2


def test_a_judge_call_is_traced_into_the_phoenix_project(phoenix, client, bundled, tmp_path):
    project = f"judge-trace-{int(time.time())}"
    trace_llm_calls(project, phoenix)
    row = results_for(bundled.head(1), attempts=1).assign(
        problem_statement=bundled.iloc[0]["problem_statement"],
        patch=bundled.iloc[0]["patch"],
        test_patch=bundled.iloc[0]["test_patch"],
        test_log="",
    )
    reply = json.dumps({"correctness": "correct", "explanation": "traced judgement", "improvement": "x"})
    with ScriptedLLM(lambda r: Reply(content=reply), models={"gpt-5"}) as llm:
        judge = LLMClient(Endpoint(llm.base_url, "k", "gpt-5"), cache=False)
        evaluate_results(row, client=judge, progress=False)
    deadline = time.monotonic() + 30
    spans = []
    while time.monotonic() < deadline and not spans:
        try:
            spans = client.spans.get_spans(project_identifier=project, limit=10)
        except Exception:
            spans = []
        time.sleep(0.5)
    assert spans, f"no span in Phoenix project {project}"
    assert any("traced judgement" in json.dumps(s.get("attributes", {})) for s in spans)
