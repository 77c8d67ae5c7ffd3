"""Scoring time per instance: the docker harness (swebench's run_evaluation in the instance images) against
the local harness (the tests in a virtualenv here), printed as a ratio.

Six bundled tasks, their gold patches, scored three ways: the docker harness with all six in one call
(one run_evaluation process, its containers two at a time, as validate-benchmark scores), the docker
harness one instance per call (as run_act scores each agent's patch), and the local harness (two
workers). Images and virtualenvs are built first and not timed; building them is timed apart.
"""

from __future__ import annotations

import time

from cookbook.data import load_instances
from cookbook.harnesses import get_harness
from cookbook.images import with_spec
from cookbook.seams import RESOLVED

INSTANCES = 6


def timed(harness, rows: list[dict], per_call: bool) -> float:
    """Seconds per instance to score the gold patches (all must resolve)."""
    patches = {r["instance_id"]: r["patch"] for r in rows}
    start = time.perf_counter()
    batches = [[r] for r in rows] if per_call else [rows]
    results = [result for batch in batches for result in harness.evaluate(batch, patches)]
    seconds = (time.perf_counter() - start) / len(rows)
    assert all(r.outcome == RESOLVED for r in results), [(r.instance_id, r.reason) for r in results]
    return seconds


def main() -> None:
    rows = load_instances("bundled").iloc[:INSTANCES].to_dict("records")
    start = time.perf_counter()
    for row in rows:
        with_spec(row)  # images (cached after the first run)
    images_s = time.perf_counter() - start
    local, docker = get_harness("local", workers=2), get_harness("docker", workers=2)
    local.evaluate(rows[:1], {})  # its virtualenvs
    local_s = timed(local, rows, per_call=False)
    batch_s = timed(docker, rows, per_call=False)
    single_s = timed(docker, rows, per_call=True)
    print(f"instance images for {INSTANCES} bundled tasks: {images_s:.1f} s (built or found)")
    print(f"scoring per instance, local harness (2 workers): {local_s:.2f} s")
    for label, seconds in ((f"{INSTANCES} per call, 2 workers", batch_s), ("1 per call, as run_act", single_s)):
        print(f"scoring per instance, docker harness ({label}): {seconds:.2f} s, ratio {seconds / local_s:.1f}x local")


if __name__ == "__main__":
    main()
