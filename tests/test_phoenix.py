"""Phoenix for real: one `phoenix serve` per test session, started by the project's own code."""

import json
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

import httpx
import pandas as pd
import pytest

from cookbook.llm.client import LLMClient
from cookbook.llm.http_service import BackgroundHTTPService
from cookbook.loop import LoopConfig, OptimizationRun
from cookbook.scripted.server import Reply, ScriptedLLM
from cookbook.seams import Endpoint
from evaluate import evaluate_results
from phoenix_experiments import (
    ExperimentFeed,
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


class HTMLWhileDown(BackgroundHTTPService):
    """In front of Phoenix, as a load balancer or an authenticating proxy is: every request passes on, except
    while `down`, when it answers 200 with an HTML page (maintenance, a login form) — no error Phoenix's
    client knows, and no connection error either."""

    def __init__(self, url: str):
        self.url, self.down, self.pages = url, False, 0

    def _make_handler(self):
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if front.down:
                    front.pages += 1
                    status, headers, content = 200, {"Content-Type": "text/html"}, b"<html>Back soon.</html>"
                else:
                    skip = ("host", "content-length", "connection", "accept-encoding")
                    sent = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                    reply = httpx.request(self.command, front.url + self.path, headers=sent, content=body, timeout=60)
                    skip += ("transfer-encoding", "content-encoding")
                    status, content = reply.status_code, reply.content
                    headers = {k: v for k, v in reply.headers.items() if k.lower() not in skip}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        return Handler


def test_live_logging_goes_on_after_an_error_that_is_not_phoenix_being_down(phoenix, client, bundled, tmp_path):
    """The feed's thread meets a page that is not JSON (a ValueError, not PhoenixUnavailable): it warns and
    goes on, and the rows that arrive once Phoenix answers again are logged while the loop still runs."""
    dataset = create_dataset(client, "feed-html", bundled.head(2))
    config = LoopConfig.parse({"run_name": "feed-html", "train_size": 2, "test_size": 1})
    run = OptimizationRun(config, tmp_path / "act_results", tmp_path / "act_rulesets")
    first, second = results_for(bundled.head(2), attempts=1).assign(ruleset_sha="sha-html").to_dict("records")
    with HTMLWhileDown(phoenix) as front:
        front.down = True
        feed = ExperimentFeed(f"http://127.0.0.1:{front.port}", None, {"train": dataset}, run, 0, "")
        feed.every_s = 0.2
        with feed, pytest.warns(UserWarning, match="Phoenix live logging: JSONDecodeError"):
            feed.on_row("train", first)
            deadline = time.monotonic() + 60
            while front.pages < 3 and time.monotonic() < deadline:  # several flushes met the page
                time.sleep(0.1)
            front.down = False
            feed.on_row("train", second)
            runs = []
            while len(runs) < 2 and time.monotonic() < deadline:  # logged live, before the feed is closed
                time.sleep(0.3)
                experiments = [
                    e for e in client.experiments.list(dataset_id=dataset.id) if e["name"] == "feed-html loop 0 train"
                ]
                runs = (
                    client.experiments.get_experiment(experiment_id=experiments[0]["id"])["task_runs"]
                    if experiments
                    else []
                )
            assert len(runs) == 2 and feed._thread.is_alive()
