"""phoenix_experiments: datasets, one experiment per loop and split, and traces, in Phoenix.

    url = ensure_phoenix()                                  # a remote Phoenix by env var, else a local one
    train_ds, test_ds = create_datasets(train, test, "cline-act")
    log_experiment_to_phoenix(url, api_key, train_ds, "loop-0-train", train_results, metadata)

Without `PHOENIX_COLLECTOR_ENDPOINT` / `PHOENIX_HOST` (and `PHOENIX_API_KEY`), `ensure_phoenix()` starts
`phoenix serve` bound to 127.0.0.1 on a free port with its sqlite working directory under the cookbook
dir, records it in `server.json`, and later cells and processes reuse it; `stop_phoenix()` stops it.

Logging is idempotent: an experiment is found again by dataset and name, and only the runs and
evaluations it lacks are added, so a call that failed half-way (Phoenix down) can simply be repeated.
The results themselves are already on disk before anything is sent here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd

from cookbook.credentials import without_credentials
from cookbook.files import atomic_write_text
from cookbook.harnesses.grading import as_test_list
from cookbook.paths import PROJECT_DIR, cookbook_dir
from cookbook.seams import CookbookError

STARTUP_TIMEOUT_S = 180


class PhoenixUnavailable(CookbookError):
    """Phoenix cannot be reached or started; local results are safe on disk, the call can be repeated."""


# -- the server ----------------------------------------------------------------------------------------
def remote_phoenix_url() -> str | None:
    """The configured remote Phoenix, if any."""
    endpoint = os.environ.get("PHOENIX_COLLECTOR_ENDPOINT")
    if endpoint:
        return endpoint.rstrip("/").removesuffix("/v1/traces")
    host = os.environ.get("PHOENIX_HOST")
    if host:
        return host.rstrip("/") if "://" in host else f"http://{host}:{os.environ.get('PHOENIX_PORT', '6006')}"
    return None


def _healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_phoenix(working_dir: Path | str | None = None, quiet: bool = False) -> str:
    """The URL of a Phoenix to log to: the remote one if configured, else a local `phoenix serve`
    (started now, or the one an earlier cell or process started)."""
    remote = remote_phoenix_url()
    if remote:
        if not _healthy(remote, timeout=5):
            raise PhoenixUnavailable(
                f"Phoenix at {remote} is not reachable (PHOENIX_COLLECTOR_ENDPOINT / PHOENIX_HOST); start it, or "
                "unset those variables to use a local Phoenix, or set PHOENIX = False to run without one."
            )
        return remote
    working_dir = Path(working_dir) if working_dir else cookbook_dir() / "phoenix"
    state_file = working_dir / "server.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        if _healthy(state["url"]):
            return state["url"]
    working_dir.mkdir(parents=True, exist_ok=True)
    port, grpc_port = _free_port(), _free_port()
    env = {
        **without_credentials(),  # Phoenix needs no provider key
        "PHOENIX_WORKING_DIR": str(working_dir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),  # bound to 127.0.0.1 by cookbook.phoenix_serve
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = open(working_dir / "phoenix.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cookbook.phoenix_serve", "serve"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            tail = (working_dir / "phoenix.log").read_text(errors="replace")[-1500:]
            raise PhoenixUnavailable(f"phoenix serve did not come up ({url}); its log ends:\n{tail}")
        time.sleep(0.5)
    state = {"url": url, "pid": proc.pid, "grpc_port": grpc_port, "working_dir": str(working_dir)}
    atomic_write_text(state_file, json.dumps(state))
    if not quiet:
        print(f"Phoenix is running at {url} (working dir {working_dir})")
    return url


def stop_phoenix(working_dir: Path | str | None = None) -> bool:
    """Stop the local Phoenix started by `ensure_phoenix`; True if one was running. A remote Phoenix
    (configured by environment) is never stopped from here."""
    if remote_phoenix_url():
        return False
    working_dir = Path(working_dir) if working_dir else cookbook_dir() / "phoenix"
    state_file = working_dir / "server.json"
    if not state_file.exists():
        return False
    state = json.loads(state_file.read_text())
    state_file.unlink()
    try:
        os.killpg(state["pid"], signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.killpg(state["pid"], 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.killpg(state["pid"], signal.SIGKILL)
    return True


def phoenix_client(hostname: str | None = None, api_key: str | None = None):
    from phoenix.client import Client

    return Client(base_url=hostname or ensure_phoenix(), api_key=api_key or os.environ.get("PHOENIX_API_KEY"))


# -- datasets ------------------------------------------------------------------------------------------
def create_dataset(client, name: str, instances: pd.DataFrame):
    """Upload instances as a dataset (`problem_statement` as input; `instance_id`, `repo`, `test_patch` as
    metadata). A dataset of that name with the same content is reused, not duplicated."""
    frame = instances[["problem_statement", "instance_id", "repo", "test_patch"]].reset_index(drop=True)
    wanted = {(r["instance_id"], r["problem_statement"]) for r in frame.to_dict("records")}
    try:
        existing = client.datasets.get_dataset(dataset=name)
    except Exception:
        existing = None
    if existing is not None:
        have = {(ex["metadata"].get("instance_id"), ex["input"].get("problem_statement")) for ex in existing.examples}
        if have == wanted:
            return existing
    return client.datasets.create_dataset(
        name=name,
        dataframe=frame,
        input_keys=["problem_statement"],
        metadata_keys=["instance_id", "repo", "test_patch"],
        dataset_description="SWE-bench-format instances (prompt-learning cookbook)",
    )


def create_datasets(
    train: pd.DataFrame, test: pd.DataFrame, name: str, hostname: str | None = None, api_key: str | None = None
):
    """The train and test datasets, named `<name>-train` and `<name>-test`."""
    client = phoenix_client(hostname, api_key)
    return create_dataset(client, f"{name}-train", train), create_dataset(client, f"{name}-test", test)


# -- experiments ---------------------------------------------------------------------------------------
def _time(value, fallback: datetime) -> datetime:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return fallback
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()


def _field(record, name: str):
    """A field of a record the client returns as a dict or as a dataclass."""
    return record[name] if isinstance(record, dict) else getattr(record, name)


def log_experiment_to_phoenix(
    hostname: str | None,
    api_key: str | None,
    dataset_obj,
    experiment_name: str,
    experiment_df: pd.DataFrame,
    metadata: dict | None = None,
) -> dict:
    """Log precomputed results as a Phoenix experiment (the cookbook's call); return a summary with the
    experiment id and URL, the runs logged now, and the instances not in the dataset.

    One run per row: output = the agent's patch (`cline_patch`), the row's real start and end times, the
    harness result as a CODE evaluation `pass_or_fail` (score 1/0, failing tests as explanation) and,
    where present, the judge's `correctness` + `explanation` as an LLM evaluation. Metadata: yours plus
    accuracy and size. Calling it again logs only what is missing.
    """
    client = phoenix_client(hostname, api_key)
    try:
        examples = {ex["metadata"].get("instance_id"): ex["id"] for ex in dataset_obj.examples}
        rows = experiment_df.to_dict("records")
        unknown = sorted({r["instance_id"] for r in rows} - set(examples))
        if unknown:
            warnings.warn(
                f"{len(unknown)} row(s) of {experiment_name} are not in dataset {dataset_obj.name}: "
                f"{', '.join(unknown[:10])}",
                stacklevel=2,
            )
        rows = [r for r in rows if r["instance_id"] in examples]
        passed = sum(r["pass_or_fail"] == "pass" for r in rows)
        meta = {"size": len(rows), "accuracy": round(passed / len(rows), 4) if rows else None, **(metadata or {})}
        repetitions = max([int(r.get("attempt") or 0) + 1 for r in rows] + [1])
        experiment, logged_runs, evaluated = _experiment(client, dataset_obj, experiment_name, meta, repetitions)
        new_runs = sum(_log_row(client, experiment["id"], examples, row, logged_runs, evaluated) for row in rows)
    except httpx.HTTPError as e:
        raise PhoenixUnavailable(
            f"Could not log {experiment_name} to Phoenix ({type(e).__name__}: {e}). The results are on disk; "
            "call log_experiment_to_phoenix again when Phoenix is back — it adds only what is missing."
        ) from e
    return {
        "experiment_id": experiment["id"],
        "experiment_name": experiment_name,
        "runs_logged": new_runs,
        "unknown_instances": unknown,
        "metadata": meta,
        "url": client.experiments.get_experiment_url(dataset_obj.id, experiment["id"]),
    }


def _experiment(client, dataset_obj, name: str, meta: dict, repetitions: int) -> tuple[dict, dict, set]:
    """The experiment of that name on this dataset version (made now if new), its runs by (example,
    repetition) and the (run, evaluation name) pairs it already has."""
    experiment = next(
        (
            e
            for e in client.experiments.list(dataset_id=dataset_obj.id)
            if e["name"] == name and e["dataset_version_id"] == dataset_obj.version_id
        ),
        None,
    )
    if experiment is None:
        experiment = client.experiments.create(
            dataset_id=dataset_obj.id,
            dataset_version_id=dataset_obj.version_id,
            experiment_name=name,
            experiment_metadata=meta,
            repetitions=repetitions,
        )
        return experiment, {}, set()
    ran = client.experiments.get_experiment(experiment_id=experiment["id"])
    logged_runs = {(r["dataset_example_id"], r["repetition_number"]): r["id"] for r in ran["task_runs"]}
    evaluated = {(_field(e, "experiment_run_id"), _field(e, "name")) for e in ran["evaluation_runs"]}
    return experiment, logged_runs, evaluated


def _log_row(client, experiment_id: str, examples: dict, row: dict, logged_runs: dict, evaluated: set) -> bool:
    """Log one row's run and evaluations, whichever are missing; True if the run is new."""
    key = (examples[row["instance_id"]], int(row.get("attempt") or 0) + 1)
    start = _time(row.get("started_at"), datetime.now(UTC))
    end = _time(row.get("finished_at"), start)
    run_id = logged_runs.get(key)
    if run_id is None:
        run = client.experiments.log_run(
            experiment_id=experiment_id,
            dataset_example_id=key[0],
            output=row.get("cline_patch") or "",
            start_time=start,
            end_time=end,
            repetition_number=key[1],
            error=(row.get("error") or None) if row.get("outcome") in ("error", "timeout") else None,
        )
        run_id = run["id"]
    if (run_id, "pass_or_fail") not in evaluated:
        failing = as_test_list(row.get("failed_tests"))
        client.experiments.log_evaluation(
            experiment_run_id=run_id,
            name="pass_or_fail",
            annotator_kind="CODE",
            score=1.0 if row["pass_or_fail"] == "pass" else 0.0,
            label=row["pass_or_fail"],
            explanation=("failing tests: " + ", ".join(failing)) if failing else str(row.get("score_reason") or ""),
            start_time=end,
            end_time=end,
        )
    correctness = row.get("correctness")
    if isinstance(correctness, str) and correctness and (run_id, "correctness") not in evaluated:
        client.experiments.log_evaluation(
            experiment_run_id=run_id,
            name="correctness",
            annotator_kind="LLM",
            score=1.0 if correctness == "correct" else 0.0,
            label=correctness,
            explanation=str(row.get("explanation") or ""),
            start_time=end,
            end_time=end,
        )
    return key not in logged_runs


# -- traces --------------------------------------------------------------------------------------------
_instrumented: dict[str, object] = {}


def trace_llm_calls(project_name: str = "prompt-learning", hostname: str | None = None, api_key: str | None = None):
    """Trace every call of the `openai` client (the judge's, the optimizer's) into a Phoenix project
    through OpenInference instrumentation. Idempotent; returns the tracer provider."""
    if project_name in _instrumented:
        return _instrumented[project_name]
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from phoenix.otel import register

    endpoint = f"{hostname or ensure_phoenix()}/v1/traces"
    provider = register(
        endpoint=endpoint,
        project_name=project_name,
        batch=False,
        set_global_tracer_provider=False,
        verbose=False,
        protocol="http/protobuf",
        headers={"authorization": f"Bearer {api_key}"} if api_key else None,
    )
    instrumentor = OpenAIInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor.instrument(tracer_provider=provider)
    _instrumented.clear()
    _instrumented[project_name] = provider
    return provider
