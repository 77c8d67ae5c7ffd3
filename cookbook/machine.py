"""What this machine can hold: how many agent runs at once, from its free memory and its cores, counting what
one run really holds where it runs (`make bench`: benchmarks/bench_loop.py, benchmarks/bench_docker_run.py).

A local run is the Cline binary (a compiled Bun program: ~300 MB resident, about 2 CPU-seconds to start) plus
the guard and whatever the agent starts (its shell, the tests). A docker run is the same agent, living with its tests
in its instance container, and then the scoring: one swebench run_evaluation process (~0.17 GB) and its
container; it also spends more CPU per run (its container's start-up and `docker exec`, a run_evaluation
process per scoring). With a hosted model an agent spends most of its time waiting for the
model, so several runs share a core; memory is the harder bound.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class Footprint:
    """What one agent run holds at its peak (`gb`) and how many share a core (`per_core`)."""

    gb: float
    per_core: int


AGENT_RUN_GB = 0.8  # peak memory of one local agent run with its tests (make bench: 0.6-0.8 GB here)
RUNS_PER_CORE = 4  # a run waits on its model most of the time; its CPU comes in bursts (start-up, tests)
FOOTPRINTS = {
    "local": Footprint(AGENT_RUN_GB, RUNS_PER_CORE),
    # make bench (bundled tasks): the agent's group ~0.44 GB inside its instance container (~0.39 GB), then the
    # scoring's run_evaluation ~0.17 GB and container ~0.03 GB; 1.4-1.7x a local run's CPU-seconds. Real repositories'
    # tests hold more in their containers than the bundled ones: counted with the scoring's 0.2 GB on top.
    "docker": Footprint(AGENT_RUN_GB + 0.2, RUNS_PER_CORE // 2),
}


def footprint(harness: str | None = None) -> Footprint:
    """What one run holds with this harness (docker: the instance image testbed and swebench's scoring; any
    other: the local one)."""
    return FOOTPRINTS.get(harness or "local", FOOTPRINTS["local"])


def available_memory_gb() -> float | None:
    """MemAvailable from /proc/meminfo, in GB; None where there is no such file."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        return None
    return None


def memory_fit(harness: str | None = None) -> int | None:
    """How many runs fit in the available memory (keeping a tenth free); None when unknown."""
    available = available_memory_gb()
    return None if available is None else max(1, int(available * 0.9 / footprint(harness).gb))


def default_workers(harness: str | None = None) -> int:
    """Agent runs at once when the user sets none: what memory holds, at most `per_core` per core."""
    by_cores = footprint(harness).per_core * (os.cpu_count() or 1)
    fit = memory_fit(harness)
    return min(by_cores, fit) if fit else by_cores


def choose_workers(workers: int | None, harness: str | None = None) -> int:
    """`workers` as the user set it (a warning when it is more than memory holds: their choice wins), or
    `default_workers(harness)` when None."""
    if workers is None:
        return default_workers(harness)
    fit = memory_fit(harness)
    if fit is not None and workers > fit:
        warnings.warn(
            f"WORKERS={workers} agent runs need ~{workers * footprint(harness).gb:.1f} GB and about "
            f"{available_memory_gb():.1f} GB is available ({fit} would fit); running {workers} as asked.",
            stacklevel=2,
        )
    return workers
