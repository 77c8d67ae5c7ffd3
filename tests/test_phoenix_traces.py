"""Costs, tokens and trajectories on the experiments, in a real Phoenix: every run opens its trace (the
agent's LLM calls from a transcript the real gateway recorded, the judge's call beside them), Phoenix
prices what it can and shows tokens for the rest, and logging twice adds nothing."""

import time
from datetime import UTC, datetime

import httpx
import openai
import pandas as pd
import pytest

from cookbook.llm.gateway import Gateway
from cookbook.phoenix import rest
from cookbook.phoenix.otlp import SpanRecord, TraceRecord, send
from cookbook.phoenix.runs import log_rows, open_experiment
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, turn
from cookbook.seams import Endpoint
from phoenix_experiments import create_dataset, log_experiment_to_phoenix, phoenix_client

pytestmark = pytest.mark.slow

USAGE = [(1200, 30), (1500, 12)]  # (prompt, completion) tokens of the two scripted replies
TOOLS = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def client(phoenix):
    return phoenix_client(phoenix)


def script(request: dict) -> Reply:
    prompt, completion = USAGE[turn(request)]
    if turn(request) == 0:
        return Reply(
            tool_calls=[ToolCall("read_file", {"path": "ini.py"})], prompt_tokens=prompt, completion_tokens=completion
        )
    return Reply(content="Fixed the parser.", prompt_tokens=prompt, completion_tokens=completion)


def record_transcript(path, model: str) -> None:
    """Two streamed calls of an agent (a tool call, then its result) through the real recording gateway."""
    with ScriptedLLM(script, models={model}) as llm, Gateway(Endpoint(llm.base_url, "k", model)) as gateway:
        agent = openai.OpenAI(base_url=gateway.register("run", path), api_key="via-gateway")
        messages = [
            {"role": "system", "content": "You are an agent.\n- run the tests"},
            {"role": "user", "content": "Fix ini"},
        ]
        for _ in range(2):
            stream = agent.chat.completions.create(
                model=model, messages=messages, tools=TOOLS, stream=True, stream_options={"include_usage": True}
            )
            calls = [c for chunk in stream for choice in chunk.choices for c in choice.delta.tool_calls or []]
            messages += [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": f"contents of ini.py ({len(calls)} call)"},
            ]
        gateway.finish("run")


def row(instance, transcript, model: str, **extra) -> dict:
    return {
        "instance_id": instance["instance_id"],
        "attempt": 0,
        "problem_statement": instance["problem_statement"],
        "cline_patch": "diff --git a/x b/x",
        "pass_or_fail": "fail",
        "outcome": "unresolved",
        "error": "",
        "failed_tests": [],
        "score_reason": "",
        "started_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC).isoformat(),
        "finished_at": datetime(2026, 3, 1, 12, 5, tzinfo=UTC).isoformat(),
        "llm_calls": 2,
        "prompt_tokens": sum(p for p, _ in USAGE),
        "completion_tokens": sum(c for _, c in USAGE),
        "cost_usd": None,
        "transcript_path": str(transcript),
        "model": model,
        "agent": "cline",
        "ruleset_sha": "sha-1",
        **extra,
    }


def wait_for_spans(client, project: str, ready, timeout: float = 60) -> list[dict]:
    """The project's spans once `ready(spans)` holds (Phoenix stores spans asynchronously)."""
    deadline, spans = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        spans = client.spans.get_spans(project_identifier=project, limit=1000)
        if ready(spans):
            return spans
        time.sleep(0.3)
    return spans


def graphql(url: str, query: str) -> dict:
    reply = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30)
    reply.raise_for_status()
    return reply.json()["data"]


@pytest.fixture(scope="module")
def logged(phoenix, client, bundled, tmp_path_factory):
    """Three rows logged as one experiment: a priced model with a judged result, an unpriced (scripted)
    model, and an infrastructure error."""
    folder = tmp_path_factory.mktemp("transcripts")
    record_transcript(folder / "priced.jsonl", "gpt-4.1")
    record_transcript(folder / "scripted.jsonl", "scripted-model")
    a, b, c = bundled.head(3).to_dict("records")
    judged = dict(
        correctness="incorrect",
        explanation="never ran the tests",
        judge_prompt_tokens=900,
        judge_completion_tokens=60,
        judge_cost_usd=0.0017,
    )
    df = pd.DataFrame(
        [
            row(a, folder / "priced.jsonl", "gpt-4.1", **judged, cost_usd=0.003),
            row(b, folder / "scripted.jsonl", "scripted-model"),
            row(
                c,
                "",
                "gpt-4.1",
                pass_or_fail="",
                outcome="error",
                error="workspace: no mirror",
                prompt_tokens=0,
                completion_tokens=0,
                llm_calls=0,
            ),
        ]
    )
    dataset = create_dataset(client, "traces-train", bundled.head(3))
    meta = {"run_name": "traces", "loop": 0, "split": "train", "judge_model": "gpt-5", "ruleset_sha": "sha-1"}
    summary = log_experiment_to_phoenix(phoenix, None, dataset, "traces loop 0 train", df, meta)
    experiment = client.experiments.get(experiment_id=summary["experiment_id"])
    runs = {
        r["dataset_example_id"]: r
        for r in client.experiments.get_experiment(experiment_id=summary["experiment_id"])["task_runs"]
    }
    examples = {ex["metadata"]["instance_id"]: ex["id"] for ex in dataset.examples}
    by_instance = {iid: runs[examples[iid]] for iid in df["instance_id"]}
    # root, 2 LLM calls and the judge; root and 2 LLM calls; the error's root alone
    spans = wait_for_spans(client, experiment["project_name"], lambda spans: len(spans) >= 4 + 3 + 1)
    return dict(
        df=df, summary=summary, experiment=experiment, runs=by_instance, spans=spans, dataset=dataset, meta=meta
    )


def test_each_run_opens_its_trace_with_the_agents_llm_calls_and_the_judge_beside_them(logged):
    df, runs, spans = logged["df"], logged["runs"], logged["spans"]
    priced = runs[df["instance_id"][0]]
    trace = [s for s in spans if s["context"]["trace_id"] == priced["trace_id"]]
    kinds = sorted((s["name"], s["span_kind"]) for s in trace)
    assert kinds == [
        ("LLM call 1", "LLM"),
        ("LLM call 2", "LLM"),
        (f"cline on {df['instance_id'][0]}", "AGENT"),
        ("judge", "LLM"),
    ]
    root = next(s for s in trace if s["span_kind"] == "AGENT")
    assert all(s["parent_id"] == root["context"]["span_id"] for s in trace if s is not root)
    calls = sorted((s for s in trace if s["name"].startswith("LLM call")), key=lambda s: s["name"])
    for span, (prompt, completion) in zip(calls, USAGE, strict=True):
        attributes = span["attributes"]
        assert attributes["llm.model_name"] == "gpt-4.1"
        assert (attributes["llm.token_count.prompt"], attributes["llm.token_count.completion"]) == (prompt, completion)
    # each call shows the request's newest messages and the reply, never the whole conversation again
    first, second = (span["attributes"] for span in calls)
    assert (
        first["llm.input_messages.1.message.content"] == "Fix ini" and "llm.input_messages.2.message.role" not in first
    )
    assert first["llm.output_messages.0.message.tool_calls.0.tool_call.function.name"] == "read_file"
    assert second["llm.input_messages.0.message.role"] == "tool" and "llm.input_messages.1.message.role" not in second
    assert second["llm.output_messages.0.message.content"] == "Fixed the parser."
    judge = next(s for s in trace if s["name"] == "judge")["attributes"]
    assert (judge["llm.model_name"], judge["llm.token_count.prompt"], judge["llm.token_count.completion"]) == (
        "gpt-5",
        900,
        60,
    )
    assert "never ran the tests" in judge["output.value"]
    assert (root["attributes"]["metadata.total_tokens"], root["attributes"]["metadata.cost_usd"]) == (2742, 0.003)


def test_phoenix_prices_the_known_model_and_shows_tokens_for_the_scripted_one(phoenix, logged):
    df, runs = logged["df"], logged["runs"]
    experiment_id = logged["experiment"]["id"]
    data = graphql(
        phoenix,
        f'{{ node(id: "{experiment_id}") {{ ... on Experiment {{ costSummary {{ total {{ tokens cost }} }} '
        "runs(first: 10) { edges { node { id trace { traceId } costSummary { total { tokens cost } } } } } } } }",
    )["node"]
    by_id = {e["node"]["id"]: e["node"] for e in data["runs"]["edges"]}
    priced, scripted, failed = (by_id[runs[i]["id"]] for i in df["instance_id"])
    assert priced["costSummary"]["total"]["tokens"] == 2742 + 960 and priced["costSummary"]["total"]["cost"] > 0
    # no price known: Phoenix shows its tokens, at no cost
    assert scripted["costSummary"]["total"]["tokens"] == 2742 and not scripted["costSummary"]["total"]["cost"]
    assert priced["trace"]["traceId"] == runs[df["instance_id"][0]]["trace_id"] and failed["trace"] is not None
    assert data["costSummary"]["total"]["tokens"] == 2742 * 2 + 960


def test_an_infrastructure_error_is_the_runs_error_and_is_not_scored(phoenix, client, logged):
    df, runs, summary = logged["df"], logged["runs"], logged["summary"]
    assert runs[df["instance_id"][2]]["error"] == "workspace: no mirror"
    ran = client.experiments.get_experiment(experiment_id=summary["experiment_id"])
    scored_runs = {e.experiment_run_id for e in ran["evaluation_runs"] if e.name == "pass_or_fail"}
    assert scored_runs == {runs[i]["id"] for i in df["instance_id"][:2]}
    meta = client.experiments.get(experiment_id=summary["experiment_id"])["metadata"]
    assert (meta["accuracy"], meta["scored"], meta["infrastructure_errors"]) == (0.0, 2, 1)
    assert 0 < meta["accuracy_high"] < 1 and meta["agent_total_tokens"] == 2742 * 2
    assert meta["agent_cost_usd"] == 0.003 and meta["judge_tokens"] == 960
    description = logged["experiment"]["description"]
    assert description == (
        "Ran ruleset sha-1 (no Prompt version logged for it): accuracy over scored rows "
        "0/2 = 0.00 [0.00, 0.66], 1 infrastructure error. Loop 0, train split."
    )


def test_logging_the_same_loop_twice_adds_no_experiment_run_trace_or_evaluation(phoenix, client, logged):
    experiment, dataset = logged["experiment"], logged["dataset"]
    before = client.experiments.get_experiment(experiment_id=experiment["id"])
    again = log_experiment_to_phoenix(phoenix, None, dataset, "traces loop 0 train", logged["df"], logged["meta"])
    assert again["runs_logged"] == 0 and again["experiment_id"] == experiment["id"]
    # a trace sent again (a call that stopped between sending it and logging its run) is stored once
    trace_ids = {r["trace_id"] for r in before["task_runs"]}
    with rest(phoenix) as http:
        seed = f"{experiment['id']}/{logged['runs'][logged['df']['instance_id'][1]]['dataset_example_id']}/1/"
        seed += logged["df"]["started_at"][1]
        resent = TraceRecord(seed, [SpanRecord("resent root", "AGENT", 0.0, 1.0, parent=None)])
        assert resent.trace_id in trace_ids
        sentinel = TraceRecord(f"sentinel-{time.time()}", [SpanRecord("sentinel", "CHAIN", 0.0, 1.0, parent=None)])
        send(http, experiment["project_name"], [resent, sentinel])
    # spans are stored in the order they arrive: once the sentinel is there, the copy was handled
    spans = wait_for_spans(
        client, experiment["project_name"], lambda spans: any(s["name"] == "sentinel" for s in spans)
    )
    assert len(spans) == len(logged["spans"]) + 1 and not any(s["name"] == "resent root" for s in spans)
    after = client.experiments.get_experiment(experiment_id=experiment["id"])
    assert (len(after["task_runs"]), len(after["evaluation_runs"])) == (3, len(before["evaluation_runs"]))
    assert [e["name"] for e in client.experiments.list(dataset_id=dataset.id)].count("traces loop 0 train") == 1


def test_a_trace_that_never_arrived_is_sent_when_the_loop_is_logged_again(phoenix, client, bundled, tmp_path):
    record_transcript(tmp_path / "late.jsonl", "gpt-4.1")
    instance = bundled.iloc[3]
    df = pd.DataFrame([row(instance, tmp_path / "late.jsonl", "gpt-4.1")])
    dataset = create_dataset(client, "traces-late", bundled.iloc[3:4])
    examples = {ex["metadata"]["instance_id"]: ex["id"] for ex in dataset.examples}
    with rest(phoenix) as http:
        experiment, logged, evaluated = open_experiment(client, http, dataset, "late traces", "", {"loop": 0}, 1)
    # Phoenix goes away after the run is logged, before its trace is sent
    with rest("http://127.0.0.1:9") as down, pytest.raises(httpx.ConnectError):
        log_rows(client, down, experiment, examples, df.to_dict("records"), logged, evaluated)
    (run,) = client.experiments.get_experiment(experiment_id=experiment["id"])["task_runs"]
    assert run["trace_id"]
    again = log_experiment_to_phoenix(phoenix, None, dataset, "late traces", df, {"loop": 0})
    assert again["runs_logged"] == 0
    spans = wait_for_spans(client, experiment["project_name"], lambda spans: len(spans) >= 3)
    assert {s["context"]["trace_id"] for s in spans} == {run["trace_id"]} and len(spans) == 3


def test_a_rerun_that_fixes_an_infrastructure_error_replaces_the_errored_run(phoenix, client, bundled, tmp_path):
    record_transcript(tmp_path / "rerun.jsonl", "gpt-4.1")
    instance = bundled.iloc[4]
    dataset = create_dataset(client, "traces-rerun", bundled.iloc[4:5])
    failed = row(instance, "", "gpt-4.1", pass_or_fail="", outcome="error", error="endpoint: 502", llm_calls=0)
    first = log_experiment_to_phoenix(phoenix, None, dataset, "rerun", pd.DataFrame([failed]), {"loop": 0})
    (errored,) = client.experiments.get_experiment(experiment_id=first["experiment_id"])["task_runs"]
    assert errored["error"] == "endpoint: 502"
    rerun = row(instance, tmp_path / "rerun.jsonl", "gpt-4.1", started_at=datetime(2026, 3, 2, tzinfo=UTC).isoformat())
    again = log_experiment_to_phoenix(phoenix, None, dataset, "rerun", pd.DataFrame([rerun]), {"loop": 0})
    assert again["runs_logged"] == 1 and again["metadata"]["infrastructure_errors"] == 0
    ran = client.experiments.get_experiment(experiment_id=first["experiment_id"])
    (run,) = ran["task_runs"]
    assert run["id"] == errored["id"] and not run.get("error") and run["trace_id"] != errored["trace_id"]
    assert [(e.name, e.result["label"]) for e in ran["evaluation_runs"]] == [("pass_or_fail", "fail")]


def test_a_run_logged_before_it_was_judged_gets_the_judges_span_when_its_judgement_is_logged(
    phoenix, client, bundled, tmp_path
):
    """A loop logs each row as it arrives (ExperimentFeed), before the judge has said anything; the loop's
    own call with the judged rows adds the judge's evaluation and its span to the run's trace."""
    record_transcript(tmp_path / "judged-later.jsonl", "gpt-4.1")
    instance = bundled.iloc[5]
    arrived = row(instance, tmp_path / "judged-later.jsonl", "gpt-4.1")
    judged = {**arrived, "correctness": "incorrect", "explanation": "it never ran the failing test"}
    judged |= {"judge_prompt_tokens": 700, "judge_completion_tokens": 40}
    dataset = create_dataset(client, "traces-judged-later", bundled.iloc[5:6])
    meta = {"run_name": "judged-later", "loop": 0, "split": "train", "judge_model": "gpt-5"}
    first = log_experiment_to_phoenix(phoenix, None, dataset, "judged later", pd.DataFrame([arrived]), meta)
    project = client.experiments.get(experiment_id=first["experiment_id"])["project_name"]
    assert [s["name"] for s in wait_for_spans(client, project, lambda spans: len(spans) >= 3)].count("judge") == 0
    again = log_experiment_to_phoenix(phoenix, None, dataset, "judged later", pd.DataFrame([judged]), meta)
    assert again["runs_logged"] == 0
    spans = wait_for_spans(client, project, lambda spans: any(s["name"] == "judge" for s in spans))
    (run,) = client.experiments.get_experiment(experiment_id=first["experiment_id"])["task_runs"]
    assert sorted(s["name"] for s in spans) == [
        "LLM call 1",
        "LLM call 2",
        "cline on " + instance["instance_id"],
        "judge",
    ]
    assert {s["context"]["trace_id"] for s in spans} == {run["trace_id"]}  # one trace: the copies were not kept
    judge = next(s for s in spans if s["name"] == "judge")["attributes"]
    assert judge["llm.model_name"] == "gpt-5" and "never ran the failing test" in judge["output.value"]
