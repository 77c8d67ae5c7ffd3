"""An experiment's runs in Phoenix: one per result row, each linked to its trace, with the harness's and
the judge's verdicts as evaluations — each logged once.

Per row: the run, pointing by trace id at the trace of the agent's run (its LLM calls and the judge's
call, `traces.run_trace`; Phoenix links experiment runs to traces that way), and the evaluations the run
lacks; then the traces. A call that stops half-way (Phoenix down) can be repeated: runs and evaluations
already there are skipped, a stored run's trace that never arrived is sent, and a trace sent twice is
stored once (its ids come from a seed, the same every time).
An infrastructure error is logged as the run's error, with no `pass_or_fail` evaluation (it was not
scored); a run stored with an error is logged again once its row has an outcome of the agent's.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from cookbook.grading import as_test_list
from cookbook.phoenix.otlp import TraceRecord, send
from cookbook.phoenix.scores import SplitScore
from cookbook.phoenix.traces import epoch, number, run_trace, text

Key = tuple[str, int]  # (dataset example id, repetition number)
Logged = tuple[str, bool, str]  # a stored run: (run id, stored with an error, trace id)


def _field(record, name: str):
    """A field of a record the client returns as a dict or as a dataclass."""
    return record[name] if isinstance(record, dict) else getattr(record, name)


def is_error(row: dict) -> bool:
    """An infrastructure error: not the agent's outcome, not scored."""
    outcome = text(row.get("outcome"))
    return outcome == "error" if outcome else text(row.get("pass_or_fail")) not in ("pass", "fail")


def open_experiment(
    client, http: httpx.Client, dataset, name: str, description: str, meta: dict, repetitions: int
) -> tuple[dict, dict[Key, Logged], set]:
    """The experiment of that name on this dataset version (made now if new; its description and
    metadata brought up to date if not), its runs by key, and the (run id, evaluation name) pairs it has."""
    experiment = next(
        (
            e
            for e in client.experiments.list(dataset_id=dataset.id)
            if e["name"] == name and e["dataset_version_id"] == dataset.version_id
        ),
        None,
    )
    if experiment is None:
        experiment = client.experiments.create(
            dataset_id=dataset.id,
            dataset_version_id=dataset.version_id,
            experiment_name=name,
            experiment_description=description,
            experiment_metadata=meta,
            repetitions=repetitions,
        )
        return experiment, {}, set()
    if experiment.get("description") != description or experiment.get("metadata") != meta:
        reply = http.patch(f"v1/experiments/{experiment['id']}", json={"description": description, "metadata": meta})
        reply.raise_for_status()
    ran = client.experiments.get_experiment(experiment_id=experiment["id"])
    logged = {
        (r["dataset_example_id"], r["repetition_number"]): (r["id"], bool(r.get("error")), r.get("trace_id") or "")
        for r in ran["task_runs"]
    }
    evaluated = {(_field(e, "experiment_run_id"), _field(e, "name")) for e in ran["evaluation_runs"]}
    return experiment, logged, evaluated


def experiment_description(meta: dict, score: SplitScore, version: dict | None) -> str:
    """Which ruleset ran (its Prompt version and id) and the accuracy first — the experiments table shows
    a description's beginning — then the loop, the split and the version's page."""
    parts = (f"loop {meta['loop']}" if "loop" in meta else "", f"{meta['split']} split" if meta.get("split") else "")
    where = ", ".join(p for p in parts if p)
    if version:
        ran = f"Ran Prompt {version['prompt']} version loop-{version['loop']} ({version['id']})"
    elif meta.get("ruleset_sha"):
        ran = f"Ran ruleset {meta['ruleset_sha']} (no Prompt version logged for it)"
    else:
        ran = "Results"
    sentences = [
        f"{ran}: accuracy over scored rows {score.text()}.",
        f"{where[0].upper()}{where[1:]}." if where else "",
        f"Version: {version['url']}" if version else "",
    ]
    return " ".join(s for s in sentences if s)


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _log_run(client, experiment_id: str, key: Key, row: dict, trace: TraceRecord) -> str:
    root = trace.spans[0]
    run = client.experiments.log_run(
        experiment_id=experiment_id,
        dataset_example_id=key[0],
        output=text(row.get("cline_patch")),
        start_time=_when(root.start),
        end_time=_when(root.end),
        repetition_number=key[1],
        trace_id=trace.trace_id,
        error=(text(row.get("error")) or "infrastructure error") if is_error(row) else None,
    )
    return run["id"]


def _log_evaluations(client, run_id: str, row: dict, evaluated: set) -> None:
    """The harness's verdict (CODE, for scored rows) and the judge's (LLM, where it judged)."""
    at = _when(epoch(row.get("finished_at"), datetime.now(UTC).timestamp()))
    verdict, correctness = text(row.get("pass_or_fail")), text(row.get("correctness"))
    failing = as_test_list(row.get("failed_tests"))
    found = ("failing tests: " + ", ".join(failing)) if failing else text(row.get("score_reason"))
    evaluations = [  # (name, annotator, label, the label that scores 1, explanation)
        *([("pass_or_fail", "CODE", verdict, "pass", found)] if verdict in ("pass", "fail") else []),
        *([("correctness", "LLM", correctness, "correct", text(row.get("explanation")))] if correctness else []),
    ]
    for name, annotator, label, good, explanation in evaluations:
        if (run_id, name) not in evaluated:
            client.experiments.log_evaluation(
                experiment_run_id=run_id,
                name=name,
                annotator_kind=annotator,
                score=1.0 if label == good else 0.0,
                label=label,
                explanation=explanation,
                start_time=at,
                end_time=at,
            )


def _judged(row: dict) -> bool:
    """The judge has said something of this row (its `correctness`, logged as an LLM evaluation)."""
    return bool(text(row.get("correctness")))


def stored_trace_ids(http: httpx.Client, project: str) -> set[str]:
    """The ids of the traces Phoenix has stored in the project."""
    found, cursor = set(), None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        reply = http.get(f"v1/projects/{project}/traces", params=params)
        if reply.status_code == 404:  # no project yet: no trace
            return found
        reply.raise_for_status()
        body = reply.json()
        found |= {t["trace_id"] for t in body["data"]}
        cursor = body.get("next_cursor")
        if not cursor:
            return found


def log_rows(
    client,
    http: httpx.Client,
    experiment: dict,
    examples: dict[str, str],
    rows: list[dict],
    logged: dict[Key, Logged],
    evaluated: set,
    judge_model: str = "",
) -> int:
    """Log what the experiment lacks of these rows (`examples`: instance id → dataset example id);
    return how many runs were logged now.

    Traces are sent last: Phoenix stores spans while it answers other calls, and answers them several
    times slower meanwhile. A trace whose run was logged by an earlier call that stopped before sending
    it is sent now (its id is the run's, from the same seed); so is the trace of a run logged before it was
    judged (a loop logs rows as they arrive), once its judgement is logged: Phoenix keeps the spans it has
    and adds the judge's."""
    by_key = {(examples[r["instance_id"]], int(number(r.get("attempt"))) + 1): r for r in rows}
    new = {key for key, row in by_key.items() if key not in logged or (logged[key][1] and not is_error(row))}
    project = experiment.get("project_name") or "default"
    stored = stored_trace_ids(http, project) if len(new) < len(by_key) else set()
    judged_since = {
        key
        for key, row in by_key.items()
        if key in logged and _judged(row) and (logged[key][0], "correctness") not in evaluated
    }
    traces = {}
    for key, row in by_key.items():
        if key in new or key in judged_since or (logged[key][2] and logged[key][2] not in stored):
            seed = f"{experiment['id']}/{key[0]}/{key[1]}/{text(row.get('started_at'))}"
            traces[key] = run_trace(row, seed, judge_model)
    for key, row in by_key.items():
        if key in new:
            run_id = _log_run(client, experiment["id"], key, row, traces[key])
            # a run logged again (it had an error) lost its evaluations on the server
            evaluated = {pair for pair in evaluated if pair[0] != run_id}
        else:
            run_id = logged[key][0]
        _log_evaluations(client, run_id, row, evaluated)
    missing = [trace for key, trace in traces.items() if key in new or trace.trace_id == logged[key][2]]
    send(http, project, missing)
    return len(new)
