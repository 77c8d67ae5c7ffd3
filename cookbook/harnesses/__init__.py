"""Harnesses: patch → RESOLVED / UNRESOLVED / ERROR, with the reason and the test log (see `cookbook.seams`).

- `local` (`local.py`): no Docker; the tests run here in the repository's virtualenv. For repositories
  that install with pip (the bundled benchmark, a user's own).
- `docker`, `modal` (`swebench.py`): swebench's `run_evaluation`, for instances whose environments live
  in their instance images (SWE-bench Lite).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from cookbook.seams import RESOLVED, UNRESOLVED, Harness

HARNESSES = ("local", "docker", "modal")


def get_harness(name: str, *, repos_dir: Path | str | None = None, **options) -> Harness:
    """`"local"`, `"docker"` or `"modal"`; options go to the adapter (workers, timeout, progress …)."""
    if name == "local":
        from cookbook.harnesses.local import LocalHarness

        return LocalHarness(repos_dir=repos_dir, **options)
    if name in ("docker", "modal"):
        from cookbook.harnesses.swebench import SWEBenchHarness

        return SWEBenchHarness(modal=name == "modal", **options)  # the instance images hold the repositories
    raise ValueError(f"Unknown harness {name!r}; use one of {', '.join(HARNESSES)}.")


def _rows(instances: pd.DataFrame | list[dict]) -> list[dict]:
    return instances.to_dict("records") if isinstance(instances, pd.DataFrame) else list(instances)


def score_patches(instances: pd.DataFrame | list[dict], patches: Mapping[str, str], harness: Harness) -> pd.DataFrame:
    """Score patches; one row per instance: instance_id, outcome, reason, test_log, failed_tests, duration_s."""
    return pd.DataFrame([asdict(r) for r in harness.evaluate(_rows(instances), patches)])


def validate_benchmark(instances: pd.DataFrame | list[dict], harness: Harness) -> pd.DataFrame:
    """Check a benchmark's rule: every gold patch resolves and every empty patch does not.

    Returns one row per instance: instance_id, gold, empty (each an outcome), ok, why, and the seconds.
    """
    rows = _rows(instances)
    gold = harness.evaluate(rows, {r["instance_id"]: r["patch"] for r in rows})
    empty = harness.evaluate(rows, {})
    table = []
    for inst, g, e in zip(rows, gold, empty, strict=True):
        why = []
        if g.outcome != RESOLVED:
            why.append(f"gold patch: {g.outcome} ({g.reason})")
        if e.outcome != UNRESOLVED:
            why.append(f"empty patch: {e.outcome} ({e.reason})")
        table.append(
            {
                "instance_id": inst["instance_id"],
                "gold": g.outcome,
                "empty": e.outcome,
                "ok": not why,
                "why": "; ".join(why),
                "gold_s": g.duration_s,
                "empty_s": e.duration_s,
            }
        )
    return pd.DataFrame(table)
