"""Harnesses: patch → RESOLVED / UNRESOLVED / ERROR, with the reason and the test log (see `cookbook.seams`).

- `local` (`local.py`): no Docker; the tests run here in the repository's virtualenv. For repositories
  that install with pip (the bundled benchmark, a user's own).
- `docker` (`swebench.py`): swebench's `run_evaluation` in the instance images (SWE-bench Lite's own, or
  built by the project for rows without images: `cookbook.images`).
- `modal` (`modal.py`): the row's eval script in a Modal sandbox made from its image, graded by swebench.

The harness follows the data (`default_harness`): the bundled benchmark, whose repositories install with pip,
is scored locally; every other dataset in Docker — in the images its rows name, or in environments built
from each row's repository and date (`cookbook.images`), never on this machine's own Python.

Applying a patch and reading a test log as SWE-bench does is `cookbook.grading` (it was `grading.py` here; the
judge, Phoenix, the rulesets and mining use it too), and the local harness's checkouts and virtualenvs are
`cookbook.workspaces`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cookbook.data.bundled import is_bundled_repo
from cookbook.grading import NO_CHANGE_PATCH
from cookbook.images import carries_images, refuse_images
from cookbook.registry import load_class
from cookbook.seams import ERROR, RESOLVED, UNRESOLVED, Harness

# The registry: name → its adapter ("module:class", imported when asked for). Everything that lists harnesses
# (the configuration's choices, the CLI's, get_harness) reads it.
HARNESS_CLASSES = {
    "local": "cookbook.harnesses.local:LocalHarness",
    "docker": "cookbook.harnesses.swebench:SWEBenchHarness",
    "modal": "cookbook.harnesses.modal:ModalHarness",
}
HARNESSES = tuple(HARNESS_CLASSES)


def get_harness(name: str, *, repos_dir: Path | str | None = None, **options) -> Harness:
    """The harness named `name` (one of HARNESSES); options go to the adapter (workers, timeout, progress …)."""
    return load_class(HARNESS_CLASSES, name, "harness")(repos_dir=repos_dir, **options)


def default_harness(instances: pd.DataFrame | list[dict]) -> str:
    """The harness the data asks for: `local` for the bundled benchmark's rows, `docker` for any other
    (rows that name images live there; real repositories need an environment of their own Python and
    dependencies, built from the repository)."""
    rows = _rows(instances)
    bundled = all(is_bundled_repo(row["repo"]) for row in rows)
    return "local" if bundled and not carries_images(rows) else "docker"


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


def validate_benchmark(instances: pd.DataFrame | list[dict], harness: Harness) -> pd.DataFrame:
    """Check a benchmark's rule: every gold patch resolves and every empty patch (one that changes no code,
    `NO_CHANGE_PATCH`, so the tests do run) does not.

    Returns one row per instance: instance_id, gold, empty (each an outcome), ok, why, error_kind (of an
    infrastructure error: "environment" when the instance's environment cannot be built or its tests cannot
    run here), and the seconds. The empty patches run first: their runs tell the harness whether an
    instance's tests report results at all.
    """
    rows = _rows(instances)
    empty = harness.evaluate(rows, {r["instance_id"]: NO_CHANGE_PATCH for r in rows})
    gold = harness.evaluate(rows, {r["instance_id"]: r["patch"] for r in rows})
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
                "error_kind": next((r.error_kind or "harness" for r in (g, e) if r.outcome == ERROR), ""),
                "gold_s": g.duration_s,
                "empty_s": e.duration_s,
            }
        )
    return pd.DataFrame(table)
