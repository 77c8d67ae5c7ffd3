"""What this machine can hold: how many agent runs at once, from its free memory and its cores.

One agent run is the Cline binary (a compiled Bun program: ~300 MB resident, about 2 CPU-seconds to
start) plus the guard and whatever the agent starts (its shell, the tests); `make bench` measures it. With
a hosted model an agent spends most of its time waiting for the model, so several runs share a core;
memory is the harder bound.
"""

from __future__ import annotations

import os
import warnings

AGENT_RUN_GB = 0.8  # peak memory of one agent run with its tests (make bench: 0.6-0.8 GB here)
RUNS_PER_CORE = 4  # a run waits on its model most of the time; its CPU comes in bursts (start-up, tests)


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


def memory_fit() -> int | None:
    """How many agent runs fit in the available memory (keeping a tenth free); None when unknown."""
    available = available_memory_gb()
    return None if available is None else max(1, int(available * 0.9 / AGENT_RUN_GB))


def default_workers() -> int:
    """Agent runs at once when the user sets none: what memory holds, at most RUNS_PER_CORE per core."""
    by_cores = RUNS_PER_CORE * (os.cpu_count() or 1)
    fit = memory_fit()
    return min(by_cores, fit) if fit else by_cores


def choose_workers(workers: int | None) -> int:
    """`workers` as the user set it (a warning when it is more than memory holds: their choice wins), or
    `default_workers()` when None."""
    if workers is None:
        return default_workers()
    fit = memory_fit()
    if fit is not None and workers > fit:
        warnings.warn(
            f"WORKERS={workers} agent runs need ~{workers * AGENT_RUN_GB:.1f} GB and about "
            f"{available_memory_gb():.1f} GB is available ({fit} would fit); running {workers} as asked.",
            stacklevel=2,
        )
    return workers
