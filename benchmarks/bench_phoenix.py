"""Logging to Phoenix: the time to log 300 result rows as an experiment (runs + evaluations) against a
local `phoenix serve`, and its ratio to writing the same rows to CSV."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from phoenix_experiments import create_dataset, ensure_phoenix, log_experiment_to_phoenix, phoenix_client, stop_phoenix

ROWS = 300


def main() -> None:
    start = datetime.now(UTC)
    instances = pd.DataFrame(
        {
            "instance_id": [f"bench__repo-{i}" for i in range(ROWS)],
            "repo": [f"bench/repo{i % 12}" for i in range(ROWS)],
            "problem_statement": [f"Issue {i}: something is wrong.\n" * 20 for i in range(ROWS)],
            "test_patch": ["diff --git a/t b/t\n" * 10] * ROWS,
        }
    )
    results = pd.DataFrame(
        {
            "instance_id": instances["instance_id"],
            "attempt": 0,
            "cline_patch": ["+fix\n" * 40] * ROWS,
            "pass_or_fail": ["pass" if i % 3 == 0 else "fail" for i in range(ROWS)],
            "status": "unresolved",
            "failed_tests": [["tests/test_x.py::test_y"]] * ROWS,
            "correctness": ["correct" if i % 3 == 0 else "incorrect" for i in range(ROWS)],
            "explanation": ["The patch missed the boundary case the test checks."] * ROWS,
            "started_at": [(start + timedelta(seconds=i)).isoformat() for i in range(ROWS)],
            "finished_at": [(start + timedelta(seconds=i + 5)).isoformat() for i in range(ROWS)],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = ensure_phoenix(Path(tmp) / "phoenix", quiet=True)
        try:
            dataset = create_dataset(phoenix_client(url), "bench", instances)
            t0 = time.perf_counter()
            log_experiment_to_phoenix(url, None, dataset, "bench-loop", results, {"loop": 0})
            phoenix_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            results.to_csv(Path(tmp) / "results.csv", index=False)
            csv_s = time.perf_counter() - t0
        finally:
            stop_phoenix(Path(tmp) / "phoenix")
    print(
        f"phoenix logging: {ROWS} rows (a run and 2 evaluations each) in {phoenix_s:.1f} s "
        f"({phoenix_s / ROWS * 1000:.0f} ms per row); CSV {csv_s * 1000:.1f} ms; "
        f"ratio phoenix/CSV {phoenix_s / csv_s:.0f}x"
    )


if __name__ == "__main__":
    main()
