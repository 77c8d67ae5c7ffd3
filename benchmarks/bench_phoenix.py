"""Logging to Phoenix: the time to log 300 result rows as an experiment against a local `phoenix serve`
(a run and 2 evaluations per row, then the same with each run's trace: 10 LLM calls read from a gateway
transcript, and the judge's call), and its ratio to writing the same rows to CSV."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from phoenix_experiments import create_dataset, ensure_phoenix, log_experiment_to_phoenix, phoenix_client, stop_phoenix

ROWS = 300
CALLS = 10  # LLM calls per agent run in the transcripts


def write_transcript(path: Path, start: datetime) -> None:
    """A gateway transcript of CALLS calls: a long system prompt, then tool results the conversation grows by."""
    messages = [{"role": "system", "content": "You are Cline. " * 1500}, {"role": "user", "content": "Fix it."}]
    lines = []
    for i in range(CALLS):
        lines.append(
            json.dumps(
                {
                    "time": (start + timedelta(seconds=2 * i)).timestamp(),
                    "path": "/chat/completions",
                    "request": {"model": "gpt-4.1", "messages": messages, "stream": True},
                    "status": 200,
                    "usage": {"prompt_tokens": 6000 + 500 * i, "completion_tokens": 80},
                    "reply_text": "",
                    "tool_calls": [{"name": "read_file", "arguments": json.dumps({"path": f"src/m{i}.py"})}],
                    "duration_s": 1.5,
                }
            )
        )
        messages = [
            *messages,
            {"role": "assistant", "content": None, "tool_calls": [{"id": f"c{i}", "type": "function"}]},
            {"role": "tool", "tool_call_id": f"c{i}", "content": "def f():\n    return 1\n" * 80},
        ]
    path.write_text("\n".join(lines) + "\n")


def results(instances: pd.DataFrame, folder: Path | None) -> pd.DataFrame:
    start = datetime.now(UTC)
    frame = pd.DataFrame(
        {
            "instance_id": instances["instance_id"],
            "attempt": 0,
            "cline_patch": ["+fix\n" * 40] * ROWS,
            "pass_or_fail": ["pass" if i % 3 == 0 else "fail" for i in range(ROWS)],
            "outcome": ["resolved" if i % 3 == 0 else "unresolved" for i in range(ROWS)],
            "failed_tests": [["tests/test_x.py::test_y"]] * ROWS,
            "correctness": ["correct" if i % 3 == 0 else "incorrect" for i in range(ROWS)],
            "explanation": ["The patch missed the boundary case the test checks."] * ROWS,
            "started_at": [(start + timedelta(seconds=i)).isoformat() for i in range(ROWS)],
            "finished_at": [(start + timedelta(seconds=i + 25)).isoformat() for i in range(ROWS)],
        }
    )
    if folder is None:
        return frame
    paths = []
    for i in range(ROWS):
        paths.append(folder / f"transcript-{i}.jsonl")
        write_transcript(paths[-1], start + timedelta(seconds=i))
    return frame.assign(
        transcript_path=[str(p) for p in paths],
        prompt_tokens=CALLS * 6000 + 500 * sum(range(CALLS)),
        completion_tokens=CALLS * 80,
        model="gpt-4.1",
        judge_prompt_tokens=2500,
        judge_completion_tokens=300,
    )


def timed(url: str, dataset, name: str, df: pd.DataFrame) -> float:
    t0 = time.perf_counter()
    log_experiment_to_phoenix(url, None, dataset, name, df, {"loop": 0, "judge_model": "gpt-5"})
    return time.perf_counter() - t0


def main() -> None:
    instances = pd.DataFrame(
        {
            "instance_id": [f"bench__repo-{i}" for i in range(ROWS)],
            "repo": [f"bench/repo{i % 12}" for i in range(ROWS)],
            "problem_statement": [f"Issue {i}: something is wrong.\n" * 20 for i in range(ROWS)],
            "test_patch": ["diff --git a/t b/t\n" * 10] * ROWS,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = ensure_phoenix(Path(tmp) / "phoenix", quiet=True)
        try:
            dataset = create_dataset(phoenix_client(url), "bench", instances)
            plain = results(instances, None)
            plain_s = timed(url, dataset, "bench-loop", plain)
            traced = results(instances, Path(tmp))
            traced_s = timed(url, dataset, "bench-loop-traced", traced)
            again_s = timed(url, dataset, "bench-loop-traced", traced)
            t0 = time.perf_counter()
            traced.to_csv(Path(tmp) / "results.csv", index=False)
            csv_s = time.perf_counter() - t0
        finally:
            stop_phoenix(Path(tmp) / "phoenix")
    print(
        f"phoenix logging, {ROWS} rows: a run and 2 evaluations each in {plain_s:.1f} s "
        f"({plain_s / ROWS * 1000:.0f} ms per row); with each run's trace ({CALLS} LLM calls from its transcript "
        f"and the judge's call) in {traced_s:.1f} s ({traced_s / ROWS * 1000:.0f} ms per row, "
        f"{traced_s / plain_s:.1f}x); logging it again (nothing to add) {again_s:.1f} s; "
        f"CSV {csv_s * 1000:.1f} ms; ratio phoenix/CSV {traced_s / csv_s:.0f}x"
    )


if __name__ == "__main__":
    main()
