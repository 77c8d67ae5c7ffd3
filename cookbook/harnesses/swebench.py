"""The docker harness: SWE-bench's own evaluation (`swebench.harness.run_evaluation`) in the instance
images, on this machine's Docker engine.

Rows that carry swebench 5's fields (`image`, `eval_script`, `log_parser`, `eval_type`) are evaluated as
they are; rows that carry none get them from the project (`cookbook.images`: an image per instance, built
here with the Docker SDK, which run_evaluation then finds locally). An empty patch is `unresolved`
("empty patch") without a container — swebench drops it and writes no report. Each call is one
run_evaluation process with a fresh run id (so no earlier report is reused) in its own directory under
`<cookbook dir>/swebench_runs/`; its containers are removed by swebench, or swept at the next start when
the run was killed.

Reading its verdicts: a report → resolved / unresolved (failing tests), or error when swebench flags an
infrastructure failure; no report → unresolved when the patch did not apply or the tests timed out,
else error naming the instance's log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from cookbook.docker_engine import check_engine, run_id, sweep_leftovers
from cookbook.harnesses.grading import LOG_TAIL_CHARS, PATCH_DOES_NOT_APPLY, report_verdict
from cookbook.images import check_spec_fields, with_specs
from cookbook.paths import cookbook_dir
from cookbook.seams import ERROR, UNRESOLVED, ScoreResult

EMPTY_PATCH = "empty patch"
NO_ENGINE_ALTERNATIVES = (
    "Use harness='local' for repositories that install with pip (such as the bundled benchmark), "
    "or harness='modal' to run SWE-bench's evaluation in Modal's cloud."
)


class SWEBenchHarness:
    """swebench's `run_evaluation` in Docker. `timeout` bounds one instance's tests (seconds); `repos_dir`
    is where the mirrors of rows without images are (see `cookbook.data.repositories`)."""

    name = "docker"
    version = "2"  # part of the key of stored scores: bump when grading changes

    def __init__(
        self,
        workers: int = 2,
        timeout: float = 1800,
        repos_dir: Path | str | None = None,
        runs_dir: Path | str | None = None,
        progress: bool = False,
    ):
        self.workers = workers
        self.timeout = timeout
        self.repos_dir = repos_dir
        self.runs_dir = Path(runs_dir) if runs_dir else cookbook_dir() / "swebench_runs"
        self.progress = progress

    def check_ready(self) -> None:
        """Raise DockerUnavailable (a HarnessError) when no engine answers; sweep killed runs' containers."""
        check_engine("The docker harness", NO_ENGINE_ALTERNATIVES)
        sweep_leftovers()

    def check(self, instances: list[dict]) -> None:
        """Before any agent starts: every row is well formed (or the project can make its image) and an
        engine answers."""
        check_spec_fields(instances)
        self.check_ready()

    def evaluate(self, instances: list[dict], patches: Mapping[str, str]) -> list[ScoreResult]:
        results = {}
        to_run = []
        for inst in instances:
            if (patches.get(inst["instance_id"]) or "").strip():
                to_run.append(inst)
            else:
                results[inst["instance_id"]] = ScoreResult(inst["instance_id"], UNRESOLVED, EMPTY_PATCH)
        if to_run:
            check_spec_fields(to_run)  # a malformed row is named before any work
            self.check_ready()
            rows = with_specs(to_run, self.repos_dir, progress=self.progress)
            for result in self.run_evaluation(rows, patches):
                results[result.instance_id] = result
        return [results[inst["instance_id"]] for inst in instances]

    def run_evaluation(self, rows: list[dict], patches: Mapping[str, str]) -> list[ScoreResult]:
        """One run_evaluation process for `rows` (each with its swebench fields and a non-empty patch)."""
        run = run_id()
        run_dir = self.runs_dir / run
        run_dir.mkdir(parents=True)
        dataset_file, predictions_file = run_dir / "instances.jsonl", run_dir / "predictions.jsonl"
        dataset_file.write_text("".join(json.dumps(row, default=str) + "\n" for row in rows))
        predictions = [
            {"instance_id": iid, "model_name_or_path": "cookbook", "model_patch": patches[iid]}
            for iid in (r["instance_id"] for r in rows)
        ]
        predictions_file.write_text("".join(json.dumps(p) + "\n" for p in predictions))
        command = [
            *(sys.executable, "-m", "swebench.harness.run_evaluation"),
            *("--dataset_name", str(dataset_file), "--predictions_path", str(predictions_file)),
            *("--max_workers", str(self.workers), "--run_id", run, "--timeout", str(int(self.timeout))),
            *("--report_dir", str(run_dir)),
        ]
        if self.progress:
            print(f"swebench run_evaluation: {len(rows)} patch(es) in Docker, run {run}", flush=True)
        start = time.monotonic()
        done = subprocess.run(command, cwd=run_dir, capture_output=True, text=True, errors="replace")
        (run_dir / "run_evaluation.log").write_text(done.stdout + done.stderr)
        seconds = round((time.monotonic() - start) / max(1, len(rows)), 2)
        results = [self.read_back(run_dir, run, row["instance_id"], done) for row in rows]
        for result in results:
            result.duration_s = seconds  # one process scores them all: the mean time per instance
        return results

    def read_back(self, run_dir: Path, run: str, instance_id: str, done: subprocess.CompletedProcess) -> ScoreResult:
        """The verdict on one instance from the files run_evaluation left; never raises."""
        from swebench.harness.constants import APPLY_PATCH_FAIL

        log_dir = run_dir / "logs" / "run_evaluation" / run / "cookbook" / instance_id
        test_output = log_dir / "test_output.txt"
        test_log = test_output.read_text(errors="replace") if test_output.exists() else ""
        instance_log = log_dir / "run_instance.log"

        def result(outcome: str, reason: str, log: str = test_log, failed: list[str] | None = None) -> ScoreResult:
            return ScoreResult(instance_id, outcome, reason, log[-LOG_TAIL_CHARS:], failed or [])

        report_file = log_dir / "report.json"
        if report_file.exists():
            try:
                report = json.loads(report_file.read_text())[instance_id]
            except (ValueError, KeyError, TypeError):
                return result(ERROR, f"harness error: swebench's report {report_file} is empty or unreadable")
            outcome, reason, failed = report_verdict(report, test_log, str(log_dir))
            return result(outcome, reason, failed=failed)
        text = instance_log.read_text(errors="replace") if instance_log.exists() else ""
        if APPLY_PATCH_FAIL in text:
            return result(UNRESOLVED, PATCH_DOES_NOT_APPLY, text)
        if "Test timed out after" in text:
            return result(UNRESOLVED, f"tests timed out after {self.timeout:g} s")
        where = instance_log if instance_log.exists() else run_dir / "run_evaluation.log"
        tail = text or (done.stdout + done.stderr)
        return result(ERROR, f"harness error: no report from swebench (see {where})", tail)
