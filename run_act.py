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
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from cookbook.agent_run import AgentRunner, instance_dir
from cookbook.agents import agent_api
from cookbook.assembly import assemble
from cookbook.circuit_breaker import CircuitBreaker
from cookbook.credentials import remember_secret
from cookbook.data import load_instances
from cookbook.llm.endpoints import endpoint_for
from cookbook.llm.gateway import Gateway
from cookbook.llm.rate_limit import RateLimiter
from cookbook.machine import choose_workers
from cookbook.mining import dataset_file
from cookbook.paths import cookbook_dir
from cookbook.seams import ERROR, Agent, Endpoint, Harness

RESULT_COLUMNS = [
    "instance_id",
    "attempt",
    "problem_statement",
    "patch",
    "test_patch",
    "cline_patch",
    "pass_or_fail",
    "outcome",
    "error_kind",
    "error",
    "score_reason",
    "failed_tests",
    "test_log",
    "duration_s",
    "llm_calls",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
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


OnRow = Callable[[str, dict], None]


def run_act(
    dataset_name: str,
    instance_ids: list[str] | dict[str, list[str]] | None,
    run_id: str,
    ruleset: str,
    workers: int | None = None,
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
    on_row: OnRow | list[OnRow] | None = None,
    max_error_share: float | None = None,
    progress: bool = True,
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Run the agent with `ruleset` on `instance_ids` of `dataset_name` (None = all) and score each patch.
    `dataset_name`: any name `load_instances` takes, or `mine:PATH` (mined first: `cookbook.mining`).

    Returns one row per instance and attempt (see `RESULT_COLUMNS`): the gold `patch`, the agent's
    `cline_patch`, `outcome` (resolved / unresolved / timeout: the agent's; error: the infrastructure's),
    `pass_or_fail` (the cookbook's "pass" / "fail"), the run's LLM calls and tokens as the gateway counted
    them, and `rules_applied` (the ruleset was in the system prompt of every request the model received).
    A failed or timed-out agent is a row, never an exception. `run_id` names the run in the progress bar.

    `instance_ids` may name several splits, `{"train": [...], "test": [...]}`: their runs then share one
    pool of `workers` (so one split's slowest runs overlap the next split's) and the result is
    `{split: rows}`. `on_row(split, row)` (or a list of such) is called with each row as soon as it is
    scored — to judge training rows or log them while the other runs go on. With `max_error_share`, the
    runs stop with InfrastructureFailure as soon as more than that share of a split's runs are certain to
    end in infrastructure errors. `workers` None: as many as this machine holds (`cookbook.machine`).

    `endpoint`: the agent's model (default: its role's, `cookbook.llm.endpoints`); the agent never sees its
    key, only its run's gateway URL. `max_requests` caps a run's LLM calls at the gateway; `timeout`
    (seconds) kills a run's process group. Finished runs are stored under `runs_dir` (default
    `<cookbook dir>/agent_runs`) with their transcripts. `requests_per_minute` / `tokens_per_minute` bound
    all runs together at the gateway.
    """
    splits = instance_ids if isinstance(instance_ids, dict) else {split: instance_ids}
    chosen = _instances(dataset_name, split, splits)
    instances = [inst for rows in chosen.values() for inst in rows]
    endpoint = endpoint or endpoint_for(role="agent", api=agent_api(agent))
    # None: the data's harness (docker when rows name images); a misfit is refused before any work
    parts = assemble(agent, endpoint.model, harness, instances, repos_dir, workers=1)
    agent, harness, testbed = parts.agent, parts.harness, parts.testbed
    remember_secret(endpoint.api_key)  # no process the agent starts may see it
    testbed.check(instances)  # before any agent starts: engine, repositories, base commits
    harness.check(instances)
    runner = AgentRunner(
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
    jobs = [(name, inst, attempt) for name, rows in chosen.items() for inst in rows for attempt in range(attempts)]
    jobs = longest_first(jobs, runner.runs_root)
    callbacks = _callbacks(on_row, max_error_share, {name: len(rows) * attempts for name, rows in chosen.items()})
    limiter = RateLimiter(requests_per_minute, tokens_per_minute) if requests_per_minute or tokens_per_minute else None
    with Gateway(endpoint, rate_limiter=limiter) as gateway:
        runner.gateway = gateway
        rows = _run_all(runner, jobs, choose_workers(workers, harness.name), f"run_act {run_id}", callbacks, progress)
    results = {name: _table(rows, name, chosen[name], attempts) for name in chosen}
    return results if isinstance(instance_ids, dict) else results[split]


def longest_first(jobs: list[tuple[str, dict, int]], runs_root: Path) -> list[tuple[str, dict, int]]:
    """The jobs, those whose instance ran longest before (any ruleset, stored under `runs_root`) first, so
    the stragglers of a loop start early instead of ending it; instances never run keep their order, after
    the known long ones and before the known short ones (a stable sort on the last known duration)."""
    known = {}
    for inst in {inst["instance_id"]: inst for _, inst, _ in jobs}.values():
        durations = []
        for record in instance_dir(runs_root, inst["instance_id"]).glob("*/agent.json"):
            try:
                durations.append(float(json.loads(record.read_text())["agent"]["duration_s"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        if durations:
            known[inst["instance_id"]] = max(durations)
    if not known:
        return jobs
    middle = sorted(known.values())[len(known) // 2]  # an unknown instance is taken as a typical one
    return sorted(jobs, key=lambda job: -known.get(job[1]["instance_id"], middle))


def _callbacks(on_row: OnRow | list[OnRow] | None, max_error_share: float | None, sizes: dict) -> list[OnRow]:
    """What each arriving row goes to: the circuit breaker first (when asked for), then the caller's."""
    callbacks = [] if on_row is None else on_row if isinstance(on_row, list) else [on_row]
    return [CircuitBreaker(max_error_share, sizes).add, *callbacks] if max_error_share is not None else callbacks


def _instances(dataset_name: str, split: str, splits: dict[str, list[str] | None]) -> dict[str, list[dict]]:
    """{split name: its instances}, loaded once (None: every instance of the dataset)."""
    named = None if any(ids is None for ids in splits.values()) else [i for ids in splits.values() for i in ids]
    rows = load_instances(dataset_file(dataset_name), split, named).to_dict("records")  # mine:PATH: mined first
    by_id = {row["instance_id"]: row for row in rows}
    return {name: [by_id[i] for i in ids] if ids is not None else list(by_id.values()) for name, ids in splits.items()}


def _table(rows: dict, name: str, instances: list[dict], attempts: int) -> pd.DataFrame:
    """One split's rows, in its instances' order."""
    ordered = [rows[(name, inst["instance_id"], attempt)] for inst in instances for attempt in range(attempts)]
    return pd.DataFrame(ordered, columns=RESULT_COLUMNS)


def _run_all(
    runner: AgentRunner,
    jobs: list[tuple[str, dict, int]],
    workers: int,
    label: str,
    callbacks: list[OnRow],
    progress: bool,
) -> dict:
    """Every job in one pool of `workers`, with a progress bar of running runs and infrastructure errors;
    each row goes to the callbacks as it arrives. One instance's failure is its row (`AgentRunner.run`); an
    interrupt (Ctrl-C, a kernel interrupt) or a callback's exception (the circuit breaker) stops the runs in
    progress within seconds, and what they did is not stored."""
    rows: dict[tuple[str, str, int], dict] = {}
    counts = {"running": 0, "errors": 0}
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

    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = {
            pool.submit(job, inst, attempt): (name, inst["instance_id"], attempt) for name, inst, attempt in jobs
        }
        for future in as_completed(futures):
            row = future.result()
            rows[futures[future]] = row
            with lock:
                counts["errors"] += row["outcome"] == ERROR
                bar.set_postfix(counts)
            bar.update()
            for callback in callbacks:
                callback(futures[future][0], row)
    except BaseException:
        runner.cancel()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    return rows
