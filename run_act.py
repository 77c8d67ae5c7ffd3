"""run_act: the coding agent in Act mode with a ruleset on many instances in parallel, each patch scored.

    df = run_act("bundled", instance_ids, run_id="train_0", ruleset=ruleset, workers=8)

For every instance (and attempt): a fresh workspace at the base commit, the ruleset written where the
agent reads it, the agent run against its model through the recording gateway, the patch taken with
`git diff`, and the patch scored by the harness. Agent runs are the expensive part, so each finished
run and each score is stored on disk the moment it finishes (atomic writes), keyed by agent, agent
version, model, ruleset, instance and attempt: calling `run_act` again with the same arguments runs
nothing, and after a crash or a kill it runs only what is missing. `force=True` runs everything again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from agents import COMPLETED, TIMEOUT, Agent, AgentResult, make_agent
from config import cookbook_dir
from docker_testbed import DockerTestbed, check_engine
from harness import ERROR, PASS, Harness, LocalHarness, ScoreResult, get_harness
from llm import price
from llm_gateway import Gateway, RateLimiter
from swebench_data import load_instances
from util import atomic_write_text
from workspaces import EXCLUDED_FROM_PATCH, collect_patch, prepare_workspace, remove_workspace

DEFAULT_AGENT_MODEL = "gpt-4.1"

RESULT_COLUMNS = [
    "instance_id",
    "attempt",
    "problem_statement",
    "patch",
    "test_patch",
    "cline_patch",
    "pass_or_fail",
    "status",
    "error",
    "score_reason",
    "failed_tests",
    "test_log",
    "duration_s",
    "llm_calls",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "rules_applied",
    "ruleset_sha",
    "agent",
    "agent_version",
    "model",
    "transcript_path",
    "started_at",
    "finished_at",
]


def ruleset_sha(ruleset: str) -> str:
    return hashlib.sha256(ruleset.encode()).hexdigest()[:12]


def run_act(
    dataset_name: str,
    instance_ids: list[str] | None,
    run_id: str,
    ruleset: str,
    workers: int = 4,
    *,
    agent: str | Agent = "cline",
    model: str | None = None,
    harness: str | Harness = "local",
    repos_dir: str | Path | None = None,
    split: str = "test",
    timeout: float = 900,
    attempts: int = 1,
    max_requests: int = 60,
    force: bool = False,
    base_url: str | None = None,
    api_key: str | None = None,
    runs_dir: str | Path | None = None,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run the agent with `ruleset` on `instance_ids` of `dataset_name` (None = all) and score each patch.

    Returns one row per instance and attempt (see `RESULT_COLUMNS`): the gold `patch`, the agent's
    `cline_patch`, `pass_or_fail` ("pass" / "fail"), `status` ("resolved" / "unresolved" / "error" /
    "timeout"), the run's LLM calls and tokens as the gateway counted them, and `rules_applied` (the
    ruleset was in the system prompt of every request the model received). A failed or timed-out
    agent is a row, never an exception. `run_id` names the run in the progress bar and the logs.

    The model endpoint is `base_url` / `api_key` (default: `OPENAI_BASE_URL` / `OPENAI_API_KEY`); the
    agent's model `model` (default: `AGENT_MODEL`, else gpt-4.1). `max_requests` caps the LLM calls of
    one run at the gateway; `timeout` (seconds) kills a run's whole process group. Finished runs are
    stored under `runs_dir` (default `<cookbook dir>/agent_runs`), with each run's transcript.
    `requests_per_minute` / `tokens_per_minute` bound all runs together at the gateway.
    """
    instances = load_instances(dataset_name, split, instance_ids).to_dict("records")
    model = model or os.environ.get("AGENT_MODEL") or DEFAULT_AGENT_MODEL
    if isinstance(agent, str):
        agent = make_agent(agent, model)
    if isinstance(harness, str):
        harness = get_harness(harness, workers=1, repos_dir=repos_dir)
    if not isinstance(harness, LocalHarness) and not getattr(agent, "remote", False):
        # SWE-bench instances: the agent works on the instance image's /testbed and runs the tests in a
        # container of it, so without a Docker engine nothing can start.
        check_engine()
    version = agent.version  # raises AgentNotInstalled before any work
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    if not api_key:
        raise ValueError("No API key: set OPENAI_API_KEY (or pass api_key=) for the agent's model endpoint.")

    sha = ruleset_sha(ruleset)
    jobs = [(inst, attempt) for inst in instances for attempt in range(attempts)]
    runs_root = Path(runs_dir) if runs_dir else cookbook_dir() / "agent_runs"
    rows: dict[tuple[str, int], dict] = {}
    counts = {"running": 0, "failed": 0}
    lock = threading.Lock()
    bar = tqdm(total=len(jobs), desc=f"run_act {run_id}", disable=not progress)

    limiter = RateLimiter(requests_per_minute, tokens_per_minute) if requests_per_minute or tokens_per_minute else None
    with (
        Gateway(base_url, api_key, rate_limiter=limiter) as gateway,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
    ):

        def job(inst: dict, attempt: int) -> dict:
            with lock:
                counts["running"] += 1
                bar.set_postfix(counts)
            try:
                key = f"{agent.name}-{version}-{_safe(model)}-{sha}-a{attempt}"
                run_dir = runs_root / _safe(inst["instance_id"]) / key
                record = _agent_run(
                    inst,
                    agent,
                    version,
                    model,
                    ruleset,
                    run_dir,
                    gateway,
                    harness,
                    repos_dir,
                    timeout,
                    max_requests,
                    force,
                )
                score = _score(inst, record, run_dir, harness, force)
                return _row(inst, attempt, record, score, agent, version, model, sha)
            finally:
                with lock:
                    counts["running"] -= 1

        futures = {pool.submit(job, inst, attempt): (inst["instance_id"], attempt) for inst, attempt in jobs}
        for future in as_completed(futures):
            row = future.result()
            rows[futures[future]] = row
            with lock:
                counts["failed"] += row["status"] in (ERROR, TIMEOUT)
                bar.set_postfix(counts)
            bar.update()
    bar.close()
    return pd.DataFrame([rows[(inst["instance_id"], attempt)] for inst, attempt in jobs], columns=RESULT_COLUMNS)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _agent_run(
    inst: dict,
    agent: Agent,
    version: str,
    model: str,
    ruleset: str,
    run_dir: Path,
    gateway: Gateway,
    harness: Harness,
    repos_dir,
    timeout: float,
    max_requests: int,
    force: bool,
) -> dict:
    """Run the agent once (or read back the stored run). The record is written only when the run ended,
    so a killed run leaves nothing that looks finished."""
    record_file = run_dir / "agent.json"
    if record_file.exists() and not force:
        return json.loads(record_file.read_text())
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    run_key = f"{_safe(inst['instance_id'])}-{run_dir.name}"
    transcript = run_dir / "transcript.jsonl"
    try:
        workspace, env, release = _agent_workspace(inst, agent, harness, repos_dir)
    except Exception as e:  # not this run's fault and not paid for: not stored, retried next call
        return {
            "agent": asdict(AgentResult("error", 0.0, error=f"workspace: {e}")),
            "patch": "",
            "stored": False,
            "llm_calls": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "rules_applied": None,
            "transcript_path": "",
        }
    try:
        url = gateway.register(run_key, transcript, ruleset=ruleset, max_requests=max_requests)
        started_at = _now()
        try:
            result = agent.run(workspace, inst["problem_statement"], ruleset, url, run_dir, env, timeout, instance=inst)
        finally:
            stats = gateway.finish(run_key)
            finished_at = _now()
        exclude = EXCLUDED_FROM_PATCH + ((agent.rules_file, f"{agent.rules_file}/**") if agent.rules_file else ())
        patch = collect_patch(workspace, inst["base_commit"], exclude=exclude)
    finally:
        release()
    if stats.refused:
        result.status, result.error = "failed", f"stopped at the request cap of {max_requests} LLM calls"
    record = {
        "agent": asdict(result),
        "patch": patch,
        "stored": True,
        "llm_calls": stats.llm_calls,
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "rules_applied": stats.rules_applied,
        "transcript_path": str(transcript),
        "started_at": started_at,
        "finished_at": finished_at,
    }
    atomic_write_text(record_file, json.dumps(record, indent=1))
    return record


def _agent_workspace(inst: dict, agent: Agent, harness: Harness, repos_dir):
    """(workspace, environment, release) for one agent run: a local checkout with the repository's
    virtualenv first on PATH (local harness); the instance image's /testbed with a container to run the
    tests in (SWE-bench instances, Docker); or a plain checkout for agents that bring their own
    environment (a Modal sandbox)."""
    if isinstance(harness, LocalHarness) and not getattr(agent, "remote", False):
        workspace = prepare_workspace(inst, repos_dir=repos_dir)
        try:
            return workspace, harness.agent_env(inst, workspace), lambda: remove_workspace(workspace)
        except BaseException:
            remove_workspace(workspace)
            raise
    if getattr(agent, "remote", False):
        workspace = prepare_workspace(inst, repos_dir=repos_dir)
        return workspace, dict(os.environ), lambda: remove_workspace(workspace)
    testbed = DockerTestbed(inst, root=cookbook_dir() / "workspaces")
    try:
        return testbed.prepare(), testbed.env(), testbed.close
    except BaseException:
        testbed.close()
        raise


def _score(inst: dict, record: dict, run_dir: Path, harness: Harness, force: bool) -> ScoreResult:
    score_file = run_dir / f"score-{harness.name}-v{harness.version}.json"
    if record.get("stored") and score_file.exists() and not force:
        return ScoreResult(**json.loads(score_file.read_text()))
    if record["agent"]["status"] == "error":
        return ScoreResult(inst["instance_id"], ERROR, "not scored: the agent did not run")
    score = harness.evaluate([inst], {inst["instance_id"]: record["patch"]})[0]
    if record.get("stored") and score.pass_or_fail != ERROR:  # a harness error is retried next call
        atomic_write_text(score_file, json.dumps(asdict(score)))
    return score


def _row(
    inst: dict, attempt: int, record: dict, score: ScoreResult, agent: Agent, version: str, model: str, sha: str
) -> dict:
    result = record["agent"]
    passed = score.pass_or_fail == PASS
    if passed:
        status = "resolved"
    elif result["status"] == TIMEOUT:
        status = TIMEOUT
    elif result["status"] != COMPLETED or score.pass_or_fail == ERROR:
        status = ERROR
    else:
        status = "unresolved"
    errors = [e for e in (result.get("error"), score.reason if score.pass_or_fail == ERROR else "") if e]
    # the agent's own figure when it knows the model's price, else the project's price table
    cost = result.get("cost_usd") or price(model, record["prompt_tokens"], record["completion_tokens"])
    return {
        "instance_id": inst["instance_id"],
        "attempt": attempt,
        "problem_statement": inst["problem_statement"],
        "patch": inst["patch"],
        "test_patch": inst["test_patch"],
        "cline_patch": record["patch"],
        "pass_or_fail": "pass" if passed else "fail",
        "status": status,
        "error": "; ".join(errors),
        "score_reason": score.reason,
        "failed_tests": score.failed_tests,
        "test_log": score.test_log,
        "duration_s": result["duration_s"],
        "llm_calls": record["llm_calls"],
        "prompt_tokens": record["prompt_tokens"],
        "completion_tokens": record["completion_tokens"],
        "cost_usd": cost,
        "rules_applied": record["rules_applied"],
        "ruleset_sha": sha,
        "agent": agent.name,
        "agent_version": version,
        "model": model,
        "transcript_path": record["transcript_path"],
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
    }
