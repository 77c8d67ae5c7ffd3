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
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from cookbook.agent_run import AgentRunner
from cookbook.agents import make_agent
from cookbook.credentials import remember_secret
from cookbook.data import load_instances
from cookbook.harnesses import choose_harness, get_harness
from cookbook.llm.endpoints import agent_api, endpoint_for
from cookbook.llm.gateway import Gateway, RateLimiter
from cookbook.paths import cookbook_dir
from cookbook.seams import ERROR, Agent, Endpoint, Harness
from cookbook.testbeds import make_testbed

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

    `endpoint` is the agent's model endpoint (default: the agent's role endpoint, `cookbook.llm.endpoints`:
    AGENT_MODEL (else gpt-4.1) at AGENT_BASE_URL / AGENT_API_KEY, else the OpenAI pair — the Anthropic pair
    for Claude Code); the agent never sees its key, only its run's gateway URL. `max_requests`
    caps the LLM calls of one run at the gateway; `timeout` (seconds) kills a run's whole process group.
    Finished runs are stored under `runs_dir` (default `<cookbook dir>/agent_runs`), with each run's
    transcript. `requests_per_minute` / `tokens_per_minute` bound all runs together at the gateway.
    """
    instances = load_instances(dataset_name, split, instance_ids).to_dict("records")
    endpoint = endpoint or endpoint_for(role="agent", api=agent_api(getattr(agent, "name", agent)))
    if isinstance(agent, str):
        agent = make_agent(agent, endpoint.model)
    harness = choose_harness(harness, instances)  # None: the data's (docker when rows name images); refuses misfits
    if isinstance(harness, str):
        harness = get_harness(harness, workers=1, repos_dir=repos_dir)
    remember_secret(endpoint.api_key)  # no process the agent starts may see it
    testbed = make_testbed(harness.name, agent, repos_dir)
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
    jobs = [(inst, attempt) for inst in instances for attempt in range(attempts)]
    limiter = RateLimiter(requests_per_minute, tokens_per_minute) if requests_per_minute or tokens_per_minute else None
    with Gateway(endpoint, rate_limiter=limiter) as gateway:
        runner.gateway = gateway
        rows = _run_all(runner, jobs, workers, f"run_act {run_id}", progress)
    return pd.DataFrame([rows[(inst["instance_id"], attempt)] for inst, attempt in jobs], columns=RESULT_COLUMNS)


def _run_all(runner: AgentRunner, jobs: list[tuple[dict, int]], workers: int, label: str, progress: bool) -> dict:
    """Every job in a pool of `workers`, with a progress bar of running runs and infrastructure errors.
    An interrupt (Ctrl-C, a kernel interrupt) or an exception stops the runs in progress within seconds;
    what they did is not stored."""
    rows: dict[tuple[str, int], dict] = {}
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
        futures = {pool.submit(job, inst, attempt): (inst["instance_id"], attempt) for inst, attempt in jobs}
        for future in as_completed(futures):
            row = future.result()
            rows[futures[future]] = row
            with lock:
                counts["errors"] += row["outcome"] == ERROR
                bar.set_postfix(counts)
            bar.update()
    except BaseException:
        runner.cancel()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    return rows
