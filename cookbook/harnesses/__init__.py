"""Harnesses: patch → RESOLVED / UNRESOLVED / ERROR, with the reason and the test log (see `cookbook.seams`).

- `local` (`local.py`): no Docker; the tests run here in the repository's virtualenv. For repositories
  that install with pip (the bundled benchmark, a user's own).
- `docker` (`swebench.py`): swebench's `run_evaluation` in the instance images (SWE-bench Lite's own, or
  built by the project for rows without images: `cookbook.images`).
- `modal` (`modal.py`): the row's eval script in a Modal sandbox made from its image, graded by swebench.

The harness follows the data (`default_harness`): rows that name instance images are scored in them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from cookbook.images import carries_images, refuse_images
from cookbook.seams import RESOLVED, UNRESOLVED, Harness

HARNESSES = ("local", "docker", "modal")


def get_harness(name: str, *, repos_dir: Path | str | None = None, **options) -> Harness:
    """`"local"`, `"docker"` or `"modal"`; options go to the adapter (workers, timeout, progress …)."""
    if name == "local":
        from cookbook.harnesses.local import LocalHarness

        return LocalHarness(repos_dir=repos_dir, **options)
    if name == "docker":
        from cookbook.harnesses.swebench import SWEBenchHarness

        return SWEBenchHarness(repos_dir=repos_dir, **options)
    if name == "modal":
        from cookbook.harnesses.modal import ModalHarness

        return ModalHarness(**options)  # the rows' registry images hold the repositories
    raise ValueError(f"Unknown harness {name!r}; use one of {', '.join(HARNESSES)}.")


def default_harness(instances: pd.DataFrame | list[dict]) -> str:
    """The harness the data asks for: `docker` when the rows name instance images (their environments
    live there), else `local`."""
    return "docker" if carries_images(_rows(instances)) else "local"


def choose_harness(harness: str | Harness | None, instances: pd.DataFrame | list[dict]) -> str | Harness:
    """`harness`, or (None) the one the data asks for; `local` on rows that name instance images is refused
    before any work, with what to use instead."""
    if harness is None:
        return default_harness(instances)
    if getattr(harness, "name", harness) == "local":
        refuse_images(_rows(instances))
    return harness


def _rows(instances: pd.DataFrame | list[dict]) -> list[dict]:
    return instances.to_dict("records") if isinstance(instances, pd.DataFrame) else list(instances)


def score_patches(instances: pd.DataFrame | list[dict], patches: Mapping[str, str], harness: Harness) -> pd.DataFrame:
    """Score patches; one row per instance: instance_id, outcome, reason, test_log, failed_tests, duration_s."""
    return pd.DataFrame([asdict(r) for r in harness.evaluate(_rows(instances), patches)])


# "Empty" in validate_benchmark: a patch that changes no code (it adds one file no test reads), so that every
# harness runs the tests without the fix — the docker harness scores a truly empty patch without running them.
NO_CHANGE_PATCH = """\
diff --git a/.cookbook-no-change b/.cookbook-no-change
new file mode 100644
--- /dev/null
+++ b/.cookbook-no-change
@@ -0,0 +1 @@
+validate-benchmark: the tests run without the fix
"""


def validate_benchmark(instances: pd.DataFrame | list[dict], harness: Harness) -> pd.DataFrame:
    """Check a benchmark's rule: every gold patch resolves and every empty patch (one that changes no code,
    `NO_CHANGE_PATCH`, so the tests do run) does not.

    Returns one row per instance: instance_id, gold, empty (each an outcome), ok, why, and the seconds.
    """
    rows = _rows(instances)
    gold = harness.evaluate(rows, {r["instance_id"]: r["patch"] for r in rows})
    empty = harness.evaluate(rows, {r["instance_id"]: NO_CHANGE_PATCH for r in rows})
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
