"""run_act: the coding agent in Act mode with a ruleset on many instances in parallel, each patch scored.

    df = run_act("bundled", instance_ids, run_id="train_0", ruleset=ruleset, workers=8)

For every instance (and attempt): a workspace prepared by the testbed (where the agent runs), the ruleset
written where the agent reads it, the agent run against its model through the recording gateway, the
patch taken with `git diff` against the workspace's starting state, and the patch scored by the harness.
Agent runs are the expensive part, so each finished run and each score is stored on disk the moment it
finishes (atomic writes), keyed by agent, agent version, model, ruleset, instance and attempt: calling
`run_act` again with the same arguments runs nothing, and after a crash or a kill it runs only what is
missing. `force=True` runs everything again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from cookbook.agents import make_agent
from cookbook.data import load_instances
from cookbook.files import atomic_write_text
from cookbook.harnesses import choose_harness, get_harness
from cookbook.llm.endpoints import endpoint_for
from cookbook.llm.gateway import Gateway, RateLimiter
from cookbook.llm.prices import price
from cookbook.paths import cookbook_dir
from cookbook.seams import (
    COMPLETED,
    ERROR,
    RESOLVED,
    TIMEOUT,
    UNRESOLVED,
    Agent,
    AgentResult,
    AgentTask,
    Endpoint,
    Harness,
    ScoreResult,
    Testbed,
    pass_or_fail,
)
from cookbook.testbeds import make_testbed
from cookbook.testbeds.checkout import EXCLUDED_FROM_PATCH, collect_patch

DEFAULT_AGENT_MODEL = "gpt-4.1"
GATEWAY_KEY = "via-gateway"  # what the agent holds instead of a provider key

RESULT_COLUMNS = [
    "instance_id",
    "attempt",
    "problem_statement",
    "patch",
    "test_patch",
    "cline_patch",
    "pass_or_fail",
    "outcome",
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
    endpoint: Endpoint | None = None,
    harness: str | Harness | None = None,
    repos_dir: str | Path | None = None,
    split: str = "test",
    timeout: float = 900,
    attempts: int = 1,
    max_requests: int = 60,
    force: bool = False,
    runs_dir: str | Path | None = None,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run the agent with `ruleset` on `instance_ids` of `dataset_name` (None = all) and score each patch.

    Returns one row per instance and attempt (see `RESULT_COLUMNS`): the gold `patch`, the agent's
    `cline_patch`, `outcome` (resolved / unresolved / timeout: the agent's; error: the infrastructure's),
    `pass_or_fail` (the cookbook's "pass" / "fail"), the run's LLM calls and tokens as the gateway counted
    them, and `rules_applied` (the ruleset was in the system prompt of every request the model received).
    A failed or timed-out agent is a row, never an exception. `run_id` names the run in the progress bar.

    `endpoint` is the agent's model endpoint (default: OPENAI_BASE_URL / OPENAI_API_KEY with model
    AGENT_MODEL, else gpt-4.1); the agent never sees its key, only its run's gateway URL. `max_requests`
    caps the LLM calls of one run at the gateway; `timeout` (seconds) kills a run's whole process group.
    Finished runs are stored under `runs_dir` (default `<cookbook dir>/agent_runs`), with each run's
    transcript. `requests_per_minute` / `tokens_per_minute` bound all runs together at the gateway.
    """
    instances = load_instances(dataset_name, split, instance_ids).to_dict("records")
    endpoint = endpoint or endpoint_for(os.environ.get("AGENT_MODEL") or DEFAULT_AGENT_MODEL)
    if isinstance(agent, str):
        agent = make_agent(agent, endpoint.model)
    harness = choose_harness(harness, instances)  # None: the data's (docker when rows name images); refuses misfits
    if isinstance(harness, str):
        harness = get_harness(harness, workers=1, repos_dir=repos_dir)
    testbed = make_testbed(harness.name, agent, repos_dir)
    testbed.check()  # e.g. no Docker engine: say so before any agent starts
    runner = _Runner(
        agent=agent,
        version=agent.version,  # raises AgentNotInstalled before any work
        endpoint=endpoint,
        testbed=testbed,
        harness=harness,
        ruleset=ruleset,
        sha=ruleset_sha(ruleset),
        runs_root=Path(runs_dir) if runs_dir else cookbook_dir() / "agent_runs",
        timeout=timeout,
        max_requests=max_requests,
        force=force,
    )
    jobs = [(inst, attempt) for inst in instances for attempt in range(attempts)]
    limiter = RateLimiter(requests_per_minute, tokens_per_minute) if requests_per_minute or tokens_per_minute else None
    with Gateway(endpoint, rate_limiter=limiter) as gateway:
        runner.gateway = gateway
        rows = _run_all(runner, jobs, workers, f"run_act {run_id}", progress)
    return pd.DataFrame([rows[(inst["instance_id"], attempt)] for inst, attempt in jobs], columns=RESULT_COLUMNS)


def _run_all(runner: _Runner, jobs: list[tuple[dict, int]], workers: int, label: str, progress: bool) -> dict:
    """Every job in a pool of `workers`, with a progress bar of running and failed runs."""
    rows: dict[tuple[str, int], dict] = {}
    counts = {"running": 0, "failed": 0}
    lock = threading.Lock()
    bar = tqdm(total=len(jobs), desc=label, disable=not progress)

    def job(inst: dict, attempt: int) -> dict:
        with lock:
            counts["running"] += 1
            bar.set_postfix(counts)
        try:
            return runner.run(inst, attempt)
        finally:
            with lock:
                counts["running"] -= 1

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(job, inst, attempt): (inst["instance_id"], attempt) for inst, attempt in jobs}
        for future in as_completed(futures):
            row = future.result()
            rows[futures[future]] = row
            with lock:
                counts["failed"] += row["outcome"] in (ERROR, TIMEOUT)
                bar.set_postfix(counts)
            bar.update()
    bar.close()
    return rows


def _unstored_record(error: str) -> dict:
    """The record of a run that never started: nothing paid for, nothing stored."""
    return {
        "agent": asdict(AgentResult("error", 0.0, error=error)),
        "patch": "",
        "stored": False,
        "llm_calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "rules_applied": None,
        "transcript_path": "",
    }


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


@dataclass
class _Runner:
    """One run_act call's fixed parts; `run` does one instance and attempt: agent run, then score."""

    agent: Agent
    version: str
    endpoint: Endpoint
    testbed: Testbed
    harness: Harness
    ruleset: str
    sha: str
    runs_root: Path
    timeout: float
    max_requests: int
    force: bool
    gateway: Gateway | None = None

    def run(self, inst: dict, attempt: int) -> dict:
        key = f"{self.agent.name}-{self.version}-{_safe(self.endpoint.model)}-{self.sha}-a{attempt}"
        run_dir = self.runs_root / _safe(inst["instance_id"]) / key
        record = self.agent_run(inst, run_dir)
        score = self.score(inst, record, run_dir)
        return self.row(inst, attempt, record, score)

    def agent_run(self, inst: dict, run_dir: Path) -> dict:
        """Run the agent once (or read back the stored run). The record is written only when the run
        ended, so a killed run leaves nothing that looks finished."""
        record_file = run_dir / "agent.json"
        if record_file.exists() and not self.force:
            return json.loads(record_file.read_text())
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        run_key = f"{_safe(inst['instance_id'])}-{run_dir.name}"
        transcript = run_dir / "transcript.jsonl"
        try:
            workspace = self.testbed.prepare(inst)
        except Exception as e:  # not this run's fault and not paid for: not stored, retried next call
            return _unstored_record(f"workspace: {e}")
        try:
            url = self.gateway.register(run_key, transcript, ruleset=self.ruleset, max_requests=self.max_requests)
            task_endpoint = Endpoint(url, GATEWAY_KEY, self.endpoint.model, self.endpoint.api)
            task = AgentTask(inst, workspace, self.ruleset, task_endpoint, run_dir, self.timeout)
            started_at = _now()
            try:
                result = self.agent.run(task)
            finally:
                stats = self.gateway.finish(run_key)
                finished_at = _now()
            rules_file = self.agent.rules_file
            exclude = EXCLUDED_FROM_PATCH + ((rules_file, f"{rules_file}/**") if rules_file else ())
            patch = collect_patch(workspace.path, workspace.base, exclude=exclude)
        finally:
            self.testbed.release(workspace)
        if stats.refused:
            result.status, result.error = "failed", f"stopped at the request cap of {self.max_requests} LLM calls"
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

    def score(self, inst: dict, record: dict, run_dir: Path) -> ScoreResult:
        score_file = run_dir / f"score-{self.harness.name}-v{self.harness.version}.json"
        if record.get("stored") and score_file.exists() and not self.force:
            return ScoreResult(**json.loads(score_file.read_text()))
        if record["agent"]["status"] == "error":
            return ScoreResult(inst["instance_id"], ERROR, "not scored: the agent did not run")
        score = self.harness.evaluate([inst], {inst["instance_id"]: record["patch"]})[0]
        if record.get("stored") and score.outcome != ERROR:  # a harness error is retried next call
            atomic_write_text(score_file, json.dumps(asdict(score)))
        return score

    def row(self, inst: dict, attempt: int, record: dict, score: ScoreResult) -> dict:
        result = record["agent"]
        if score.outcome == RESOLVED:
            outcome = RESOLVED
        elif result["status"] == TIMEOUT:
            outcome = TIMEOUT
        elif result["status"] != COMPLETED or score.outcome == ERROR:
            outcome = ERROR
        else:
            outcome = UNRESOLVED
        errors = [e for e in (result.get("error"), score.reason if score.outcome == ERROR else "") if e]
        model = self.endpoint.model
        # the agent's own figure when it knows the model's price, else the project's price table
        cost = result.get("cost_usd") or price(model, record["prompt_tokens"], record["completion_tokens"])
        return {
            "instance_id": inst["instance_id"],
            "attempt": attempt,
            "problem_statement": inst["problem_statement"],
            "patch": inst["patch"],
            "test_patch": inst["test_patch"],
            "cline_patch": record["patch"],
            "pass_or_fail": pass_or_fail(outcome),
            "outcome": outcome,
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
            "ruleset_sha": self.sha,
            "agent": self.agent.name,
            "agent_version": self.version,
            "model": model,
            "transcript_path": record["transcript_path"],
            "started_at": record.get("started_at"),
            "finished_at": record.get("finished_at"),
        }
