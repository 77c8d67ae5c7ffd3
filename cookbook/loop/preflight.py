"""The preflight: everything that can be checked in seconds is checked before the first agent starts, so a
wrong key, a missing model, an unreachable repository or a stopped engine costs nothing. The checks that
need no request come first (the agent, the repositories and mirrors, the engine, the rows' fields), then
one tiny request per model: a missing mirror is named before any model is asked anything.

Each check prints one line; the first that fails raises PreflightError with one message naming what to fix.
"""

from __future__ import annotations

import os
import time

from cookbook.assembly import assemble
from cookbook.llm.ping import ping
from cookbook.loop.endpoints import RoleEndpoints
from cookbook.loop.run import OptimizationRun
from cookbook.machine import choose_workers, footprint, memory_fit
from cookbook.seams import CookbookError


class PreflightError(CookbookError):
    """A check before the run failed; the message names what to fix."""


def preflight(run: OptimizationRun, endpoints: RoleEndpoints, workers: int | None) -> int:
    """Check the run can go: the agent is installed, every instance's repository and base commit (or image)
    is reachable, the harness can score them — and then each role's model answers. Returns the number of agent
    runs at once: `workers`, or (None) what this machine's memory and cores hold (`cookbook.machine`); a
    `workers` larger than memory holds is kept, with a warning."""
    config = run.config

    def check(what: str, action) -> None:
        start = time.monotonic()
        try:
            action()
        except CookbookError as e:
            raise PreflightError(f"preflight: {what}: {e}") from None
        print(f"preflight: {what}: ok ({time.monotonic() - start:.1f} s)")

    instances = [row for df in run.splits.values() for row in df.to_dict("records")]
    parts = assemble(config.agent, endpoints.agent.model, config.harness, instances, config.repos_dir)
    agent, harness, testbed = parts.agent, parts.harness, parts.testbed
    check(f"{config.agent} is installed", lambda: agent.version)
    check(f"the {testbed.name} testbed can prepare {len(instances)} instances", lambda: testbed.check(instances))
    check(f"the {harness.name} harness can score them", lambda: harness.check(instances))
    seen = set()
    for role, endpoint in (("agent", endpoints.agent), ("judge", endpoints.judge), ("optimizer", endpoints.optimizer)):
        if (endpoint.base_url, endpoint.model, endpoint.api) in seen:
            continue
        seen.add((endpoint.base_url, endpoint.model, endpoint.api))
        start = time.monotonic()
        failure = ping(endpoint, role)
        if failure:
            raise PreflightError(f"preflight: {failure.message}. {_fix(role, failure.kind)}")
        print(f"preflight: the {role}'s model {endpoint.model} answers ({time.monotonic() - start:.1f} s)")
    workers, held = choose_workers(workers, harness.name), footprint(harness.name)
    print(
        f"preflight: {workers} agent runs at once (a {harness.name} run holds ~{held.gb:.1f} GB, {held.per_core} "
        f"per core; memory holds ~{memory_fit(harness.name) or '?'}, {os.cpu_count()} cores)"
    )
    run.workers = workers  # recorded with each loop's operational settings
    return workers


def _fix(role: str, kind: str) -> str:
    prefix = role.upper()
    if kind == "model":
        return f"Set {prefix}_MODEL to a model the endpoint serves."
    if kind == "auth":
        return f"Check the key ({prefix}_API_KEY or OPENAI_API_KEY) and the account's quota."
    return f"Check the endpoint ({prefix}_BASE_URL or OPENAI_BASE_URL) and that it is up."
