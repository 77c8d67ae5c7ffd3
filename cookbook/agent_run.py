"""One agent run of run_act: a workspace from the testbed, the agent through the recording gateway, the
patch, the score, and the row — stored the moment it finishes, and only when it is the agent's own outcome.

A stored run is found again by what made it, wherever it is asked for (another loop, another run name,
other operational settings): the agent and its version, the model and its API, the ruleset, the instance as
the agent sees it, the run's limits (timeout, request cap) and the testbed. Its score is kept beside it,
keyed by the harness and the instance's test fields (a corrected test list is scored again, the agent's
run is not paid again)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cookbook.credentials import scrub
from cookbook.data.repositories import WorkspaceError
from cookbook.files import atomic_write_text, file_lock
from cookbook.git import GitError
from cookbook.images.build import BuildFailed
from cookbook.llm.gateway import Gateway, RunStats
from cookbook.llm.prices import price
from cookbook.seams import (
    ERROR,
    FAILED,
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
    Workspace,
    pass_or_fail,
)
from cookbook.workspaces.checkout import EXCLUDED_FROM_PATCH, collect_patch

GATEWAY_KEY = "via-gateway"  # what the agent holds instead of a provider key
# What only the scoring reads of an instance (the fix, the tests): not part of an agent run's key.
SCORING_FIELDS = ("patch", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS", "test_cmd", "eval_script", "log_parser")
SCORING_FIELDS += ("eval_type",)


def digest(*parts: object) -> str:
    """A short hash of JSON-able parts (the inputs of a stored run or score)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _unstored_record(kind: str, error: str) -> dict:
    """The record of a run that never started: nothing paid for, nothing stored."""
    return {
        "agent": asdict(AgentResult(FAILED, 0.0, error=error)),
        "patch": "",
        "stored": False,
        "error_kind": kind,
        "error": error,
        "llm_calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "rules_applied": None,
        "transcript_path": "",
    }


def now() -> str:
    return datetime.now(UTC).isoformat()


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def instance_dir(runs_root: Path, instance_id: str) -> Path:
    """Where an instance's runs are stored: one folder per agent, version, model, ruleset, the run's other
    inputs (`AgentRunner.key`) and attempt."""
    return runs_root / safe_name(instance_id)


@dataclass
class AgentRunner:
    """One run_act call's fixed parts; `run` does one instance and attempt: agent run, then score, then
    the result row (see run_act.RESULT_COLUMNS)."""

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
    cancelled: threading.Event = field(default_factory=threading.Event)
    live: set = field(default_factory=set)  # the stop events of the runs in progress

    def cancel(self) -> None:
        """Stop every run in progress now (Ctrl-C, an error elsewhere); nothing of them is stored."""
        self.cancelled.set()
        for stop in list(self.live):
            stop.set()

    def run(self, inst: dict, attempt: int) -> dict:
        """One instance and attempt's row. Its failure is its row (an infrastructure error, run again next
        time), never an exception that would end the other runs."""
        run_dir = instance_dir(self.runs_root, inst["instance_id"]) / self.key(inst, attempt)
        try:
            record = self.agent_run(inst, run_dir)
        except Exception as e:  # e.g. the agent broke its checkout (removed .git): no patch can be taken
            kind = "workspace" if isinstance(e, WorkspaceError | GitError) else "agent"
            record = _unstored_record(kind, f"{type(e).__name__}: {e}")
        score = self.score(inst, record, run_dir)
        return self.row(inst, attempt, record, score)

    def key(self, inst: dict, attempt: int) -> str:
        """The stored run's folder name: what makes the run (see the module), the instance's scoring fields
        left out."""
        seen = {field: value for field, value in inst.items() if field not in SCORING_FIELDS}
        inputs = digest(seen, self.endpoint.api, float(self.timeout), int(self.max_requests), self.testbed.name)
        return f"{self.agent.name}-{self.version}-{safe_name(self.endpoint.model)}-{self.sha}-{inputs}-a{attempt}"

    def agent_run(self, inst: dict, run_dir: Path) -> dict:
        """Run the agent once (or read back the stored run). Only the agent's own outcomes are stored, and
        only when the run ended: an infrastructure failure or a killed run leaves nothing that looks
        finished, so the next call runs it again. Another process making the same run (the store is shared)
        is waited for, and its run read back."""
        try:
            with file_lock(run_dir.parent / f".{run_dir.name}.lock", stop=self.cancelled):
                return self._agent_run_once(inst, run_dir)
        except InterruptedError:
            return _unstored_record("agent", "stopped while another process ran the same agent run")

    def _agent_run_once(self, inst: dict, run_dir: Path) -> dict:
        record_file = run_dir / "agent.json"
        if record_file.exists() and not self.force:
            return json.loads(record_file.read_text())
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        try:
            workspace = self.testbed.prepare(inst)
        except Exception as e:  # not this run's fault and not paid for: not stored, retried next call
            return _unstored_record(_prepare_error_kind(e), str(e))
        try:
            record = self._run_agent(inst, run_dir, workspace)
        finally:
            self.testbed.release(workspace)
        if record.get("error_kind") or self.cancelled.is_set():
            # kept beside the run for reading, never read back as a result
            atomic_write_text(run_dir / "infrastructure_error.json", json.dumps(record, indent=1))
            return record | {"stored": False}
        atomic_write_text(record_file, json.dumps(record, indent=1))
        return record

    def _run_agent(self, inst: dict, run_dir: Path, workspace: Workspace) -> dict:
        """The agent on a prepared workspace, through the gateway; its patch and what the gateway saw."""
        run_key = f"{safe_name(inst['instance_id'])}-{run_dir.name}"
        transcript = run_dir / "transcript.jsonl"
        stop = threading.Event()
        url = self.gateway.register(run_key, transcript, self.ruleset, self.max_requests, on_fatal=stop.set)
        task_endpoint = Endpoint(url, GATEWAY_KEY, self.endpoint.model, self.endpoint.api)
        task = AgentTask(inst, workspace, self.ruleset, task_endpoint, run_dir, self.timeout, stop)
        network = workspace.sandbox.network if workspace.sandbox else None
        inside = self.gateway.serve_in(network) if network else None  # the same URL, in the agent's container
        self.live.add(stop)
        if self.cancelled.is_set():  # cancelled while this run was starting: cancel() did not see its event
            stop.set()
        started_at = now()
        try:
            result = self.agent.run(task)
        finally:
            self.live.discard(stop)
            if inside:
                self.gateway.stop_serving(inside)
            stats = self.gateway.finish(run_key)
        finished_at = now()
        rules_file = self.agent.rules_file
        exclude = EXCLUDED_FROM_PATCH + ((rules_file, f"{rules_file}/**") if rules_file else ())
        # a key the agent got hold of goes no further: not scored, stored, judged or logged
        patch = scrub(collect_patch(workspace.path, workspace.base, exclude=exclude))
        if stats.refused:  # the agent's own doing: it kept going past the cap
            result.status, result.error = FAILED, f"stopped at the request cap of {self.max_requests} LLM calls"
        elif stats.overflow and result.status == FAILED:  # its conversation outgrew the model's window
            result.error = stats.overflow.message
        failure = infrastructure_failure(result, stats)
        return {
            "agent": asdict(result),
            "patch": patch,
            "stored": True,
            "error_kind": failure[0] if failure else "",
            "error": failure[1] if failure else result.error,
            "llm_calls": stats.llm_calls,
            "prompt_tokens": stats.prompt_tokens,
            "completion_tokens": stats.completion_tokens,
            "cached_tokens": stats.cached_tokens,
            "cache_write_tokens": stats.cache_write_tokens,
            "reasoning_tokens": stats.reasoning_tokens,
            "rules_applied": stats.rules_applied,
            "forbidden_requests": stats.forbidden,  # refused by the gateway (403): not its role's model API
            "other_requests": stats.noted,  # requests that were not model calls (GETs, refusals)
            "transcript_path": str(transcript),
            "started_at": started_at,
            "finished_at": finished_at,
        }

    def score(self, inst: dict, record: dict, run_dir: Path) -> ScoreResult:
        tests = digest({field: inst.get(field) for field in SCORING_FIELDS})
        score_file = run_dir / f"score-{self.harness.name}-v{self.harness.version}-{tests}.json"
        if record.get("stored") and score_file.exists() and not self.force:
            return ScoreResult(**json.loads(score_file.read_text()))
        if record.get("error_kind") or self.cancelled.is_set():
            return ScoreResult(inst["instance_id"], ERROR, "not scored: the agent's run did not happen")
        try:
            score = self.harness.evaluate([inst], {inst["instance_id"]: record["patch"]})[0]
        except Exception as e:  # this instance's scoring broke: its error row, retried next call
            return ScoreResult(inst["instance_id"], ERROR, f"harness error: {type(e).__name__}: {e}")
        if record.get("stored") and score.outcome != ERROR:  # a harness error is retried next call
            atomic_write_text(score_file, json.dumps(asdict(score)))
        return score

    def row(self, inst: dict, attempt: int, record: dict, score: ScoreResult) -> dict:
        result = record["agent"]
        error_kind, error = record.get("error_kind", ""), record.get("error") or result.get("error", "")
        if error_kind:
            outcome = ERROR
        elif score.outcome == ERROR:
            outcome, error_kind, error = ERROR, score.error_kind or "harness", score.reason
        elif score.outcome == RESOLVED:
            outcome = RESOLVED
        else:
            outcome = TIMEOUT if result["status"] == TIMEOUT else UNRESOLVED
        model = self.endpoint.model
        # the agent's own figure when it knows the model's price, else the project's price table
        cost = result.get("cost_usd") or price(
            model,
            record["prompt_tokens"],
            record["completion_tokens"],
            cached_tokens=record.get("cached_tokens", 0),
            cache_write_tokens=record.get("cache_write_tokens", 0),
        )
        return {
            "instance_id": inst["instance_id"],
            "attempt": attempt,
            "problem_statement": inst["problem_statement"],
            "patch": inst["patch"],
            "test_patch": inst["test_patch"],
            "cline_patch": record["patch"],
            "pass_or_fail": pass_or_fail(outcome),
            "outcome": outcome,
            "error_kind": error_kind,
            "error": error,
            "score_reason": score.reason,
            "failed_tests": score.failed_tests,
            "test_log": score.test_log,
            "duration_s": result["duration_s"],
            "llm_calls": record["llm_calls"],
            "prompt_tokens": record["prompt_tokens"],
            "completion_tokens": record["completion_tokens"],
            "cached_tokens": record.get("cached_tokens", 0),
            "reasoning_tokens": record.get("reasoning_tokens", 0),
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


def _prepare_error_kind(error: Exception) -> str:
    """Whose fault a workspace that could not be made is: the repository's (no mirror, no commit), the
    instance's environment (its image cannot be built), or the workspace's."""
    if isinstance(error, WorkspaceError):
        return "repository"
    return "environment" if isinstance(error, BuildFailed) else "workspace"


def infrastructure_failure(result: AgentResult, stats: RunStats) -> tuple[str, str] | None:
    """(error kind, message) when a run ended because of something around the agent, not its own work:
    the endpoint failed for good, or the agent ended without a result after the endpoint failed, or its
    process never produced one. None for the agent's own outcomes (finished, gave up, timed out, capped,
    ended after its conversation outgrew the model's window)."""
    if stats.fatal:
        return stats.fatal.kind, stats.fatal.message
    if result.status == TIMEOUT or stats.refused or result.status != FAILED or stats.overflow:
        return None
    if stats.upstream_error:
        return stats.upstream_error.kind, stats.upstream_error.message
    if not result.finish_reason:  # no final result at all: the tool broke, not the agent's answer
        return "agent", result.error or "the agent ended without a result"
    return None
