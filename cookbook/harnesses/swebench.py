"""The docker harness: SWE-bench's own evaluation (`swebench.harness.run_evaluation`) in the instance
images, on this machine's Docker engine.

Rows that carry swebench 5's fields (`image`, `eval_script`, `log_parser`, `eval_type`) are evaluated as
they are; rows that carry none get them from the project (`cookbook.images`: an image per instance, built
here with the Docker SDK, which run_evaluation then finds locally). An empty patch is `unresolved`
("empty patch") without a container — swebench drops it and writes no report. Each call is one
run_evaluation process with a fresh run id (so no earlier report is reused) in its own directory under
`<cookbook dir>/swebench_runs/`; its containers are removed by swebench, or swept at the next start when
the run was killed.

Every evaluation container runs with its network off (`offline_evaluation`): no test suite reaches the
internet. An instance that cannot be scored here is that instance's error, never the batch's, and never the
patch's failure (`error_kind` "environment", naming its log): its environment could not be built, its tests
need the network (`cookbook.images.repositories`), or its tests report no results — or none of its
FAIL_TO_PASS tests — even without a patch (checked once per image by running them with a patch that changes
nothing, and kept in `<cookbook dir>/images/baselines/`). With a patch, no results where there are some
without it is the patch's failure.

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

from cookbook.credentials import without_credentials
from cookbook.docker_engine import check_engine, run_id, sweep_leftovers
from cookbook.files import atomic_write_text
from cookbook.grading import (
    LOG_TAIL_CHARS,
    NO_CHANGE_PATCH,
    NO_RESULTS,
    NO_TARGET_TESTS,
    PATCH_DOES_NOT_APPLY,
    report_verdict,
)
from cookbook.images import check_spec_fields, with_specs
from cookbook.images.build import BuildFailed, image_id, inputs_hash
from cookbook.images.environment import network_problem
from cookbook.paths import PROJECT_DIR, cookbook_dir
from cookbook.seams import ERROR, UNRESOLVED, ScoreResult

EMPTY_PATCH = "empty patch"
ENVIRONMENT = "environment"
NO_ENGINE_ALTERNATIVES = (
    "Use harness='local' for repositories that install with pip (such as the bundled benchmark), "
    "or harness='modal' to run SWE-bench's evaluation in Modal's cloud."
)


class SWEBenchHarness:
    """swebench's `run_evaluation` in Docker. `timeout` bounds one instance's tests (seconds); `repos_dir`
    is where the mirrors of rows without images are (see `cookbook.data.repositories`)."""

    name = "docker"
    testbed = "docker"  # the instance image's /testbed, the image the tests run in
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
        self._engine_checked = False

    def check_ready(self) -> None:
        """Raise DockerUnavailable (a HarnessError) when no engine answers; sweep killed runs' containers.
        Once per harness object (a run): not again before every instance's evaluation."""
        if self._engine_checked:
            return
        check_engine("The docker harness", NO_ENGINE_ALTERNATIVES)
        sweep_leftovers()
        self._engine_checked = True

    def check(self, instances: list[dict]) -> None:
        """Before any agent starts: every row is well formed (or the project can make its image) and an
        engine answers."""
        check_spec_fields(instances)
        self.check_ready()

    def evaluate(self, instances: list[dict], patches: Mapping[str, str]) -> list[ScoreResult]:
        results = {}
        to_run = []
        for inst in instances:
            iid = inst["instance_id"]
            if not (patches.get(iid) or "").strip():
                results[iid] = ScoreResult(iid, UNRESOLVED, EMPTY_PATCH)
            elif network_problem(inst):
                why = f"its tests cannot run with the network off: {network_problem(inst)}"
                results[iid] = ScoreResult(iid, ERROR, why, error_kind=ENVIRONMENT)
            else:
                to_run.append(inst)
        if to_run:
            check_spec_fields(to_run)  # a malformed row is named before any work
            self.check_ready()
            rows, failed = with_specs(to_run, self.repos_dir, progress=self.progress)
            for iid, error in failed.items():
                if isinstance(error, BuildFailed):
                    results[iid] = ScoreResult(
                        iid, ERROR, f"the environment cannot be built: {error}", error_kind=ENVIRONMENT
                    )
                else:  # the mirror lacks the commit or its files
                    results[iid] = ScoreResult(iid, ERROR, str(error), error_kind="repository")
            scored = self.run_evaluation(rows, patches) if rows else []
            for row, result in zip(rows, scored, strict=True):
                results[result.instance_id] = self.unless_environment(row, result, patches[row["instance_id"]])
        return [results[inst["instance_id"]] for inst in instances]

    def unless_environment(self, row: dict, result: ScoreResult, patch: str) -> ScoreResult:
        """`result`, or an environment error when its tests report no results (or none of FAIL_TO_PASS) even
        without a patch; with a patch, no results where there are some without it is the patch's failure."""
        if not result.reason.startswith((NO_RESULTS, NO_TARGET_TESTS)):
            return result
        sound, unpatched = self.baseline(row, result if patch == NO_CHANGE_PATCH else None)
        if not sound:
            why = f"{unpatched}, even without a patch: the environment, not the patch"
            return ScoreResult(
                row["instance_id"], ERROR, why, result.test_log, duration_s=result.duration_s, error_kind=ENVIRONMENT
            )
        return ScoreResult(
            row["instance_id"],
            UNRESOLVED,
            f"{result.reason.split(' (')[0]} with this patch (without it they do)",
            result.test_log,
            result.failed_tests,
            result.duration_s,
        )

    def baseline(self, row: dict, unpatched: ScoreResult | None) -> tuple[bool, str]:
        """(whether the instance's tests report results and some of FAIL_TO_PASS without a patch, the reason
        of that run, naming its log). Run once per image and eval script, then read back."""
        key = inputs_hash(image_id(row["image"]), row["eval_script"], row["log_parser"])
        stored = cookbook_dir() / "images" / "baselines" / f"{key}.json"
        if stored.exists():
            saved = json.loads(stored.read_text())
            return saved["sound"], saved["what"]
        if unpatched is None:
            unpatched = self.run_evaluation([row], {row["instance_id"]: NO_CHANGE_PATCH})[0]
        if unpatched.outcome == ERROR:  # the harness itself broke: nothing learned, nothing kept
            return True, unpatched.reason
        sound = not unpatched.reason.startswith((NO_RESULTS, NO_TARGET_TESTS))
        atomic_write_text(
            stored, json.dumps({"sound": sound, "what": unpatched.reason, "instance_id": row["instance_id"]})
        )
        return sound, unpatched.reason

    def test_statuses(self, rows: list[dict], patches: Mapping[str, str]) -> list[tuple[ScoreResult, dict[str, str]]]:
        """Each row's verdict with `patches` (one run_evaluation, as `run_evaluation`) and beside it the status of
        every test its log holds, read as swebench reads it when it grades (`get_logs_eval`; {} when the log
        holds none): what FAIL_TO_PASS and PASS_TO_PASS are read from."""
        from swebench.harness.grading import get_logs_eval
        from swebench.harness.utils import make_test_spec

        run = run_id()
        results = self.run_evaluation(rows, patches, run)
        statuses = []
        for row in rows:
            test_output = self.log_dir(self.runs_dir / run, run, row["instance_id"]) / "test_output.txt"
            statuses.append(get_logs_eval(make_test_spec(row), str(test_output))[0] if test_output.exists() else {})
        return list(zip(results, statuses, strict=True))

    @staticmethod
    def log_dir(run_dir: Path, run: str, instance_id: str) -> Path:
        """Where run_evaluation (run `run`, in `run_dir`) leaves one instance's logs (run_instance.log,
        test_output.txt, report.json)."""
        return run_dir / "logs" / "run_evaluation" / run / "cookbook" / instance_id

    def run_evaluation(self, rows: list[dict], patches: Mapping[str, str], run: str | None = None) -> list[ScoreResult]:
        """One run_evaluation process for `rows` (each with its swebench fields and a non-empty patch), as run
        `run` (default: a fresh id)."""
        run = run or run_id()
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
            *(sys.executable, "-m", "cookbook.harnesses.offline_evaluation"),
            *("--dataset_name", str(dataset_file), "--predictions_path", str(predictions_file)),
            *("--max_workers", str(self.workers), "--run_id", run, "--timeout", str(int(self.timeout))),
            *("--report_dir", str(run_dir)),
        ]
        if self.progress:
            print(f"swebench run_evaluation: {len(rows)} patch(es) in Docker, run {run}", flush=True)
        start = time.monotonic()
        env = {**without_credentials(), "PYTHONPATH": str(PROJECT_DIR)}  # the entry point is the project's
        done = subprocess.run(command, cwd=run_dir, env=env, capture_output=True, text=True, errors="replace")
        (run_dir / "run_evaluation.log").write_text(done.stdout + done.stderr)
        seconds = round((time.monotonic() - start) / max(1, len(rows)), 2)
        results = [self.read_back(run_dir, run, row, done) for row in rows]
        for result in results:
            result.duration_s = seconds  # one process scores them all: the mean time per instance
        return results

    def read_back(self, run_dir: Path, run: str, row: dict, done: subprocess.CompletedProcess) -> ScoreResult:
        """The verdict on one instance from the files run_evaluation left; never raises."""
        from swebench.harness.constants import APPLY_PATCH_FAIL

        instance_id = row["instance_id"]
        log_dir = self.log_dir(run_dir, run, instance_id)
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
            if outcome == UNRESOLVED and not reason.startswith(NO_RESULTS) and not targets_ran(row, test_output):
                reason = f"{NO_TARGET_TESTS} (see test_log, {log_dir})"
            return result(outcome, reason, failed=failed)
        text = instance_log.read_text(errors="replace") if instance_log.exists() else ""
        if APPLY_PATCH_FAIL in text:
            return result(UNRESOLVED, PATCH_DOES_NOT_APPLY, text)
        if "Test timed out after" in text:
            return result(UNRESOLVED, f"tests timed out after {self.timeout:g} s")
        where = instance_log if instance_log.exists() else run_dir / "run_evaluation.log"
        tail = text or (done.stdout + done.stderr)
        return result(ERROR, f"harness error: no report from swebench (see {where})", tail)


def targets_ran(row: dict, test_output: Path) -> bool:
    """True when the test log holds a result for at least one FAIL_TO_PASS test (read as swebench reads it)."""
    from swebench.harness.grading import _resolve_case, get_logs_eval
    from swebench.harness.utils import make_test_spec

    if not row["FAIL_TO_PASS"] or not test_output.exists():
        return True
    status_map, _ = get_logs_eval(make_test_spec(row), str(test_output))
    return any(_resolve_case(test, status_map) is not None for test in row["FAIL_TO_PASS"])
