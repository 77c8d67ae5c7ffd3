"""SWE-bench's own evaluation (`swebench.harness.run_evaluation`) in Docker or on Modal, for instances
whose environments live in their instance images.

Each call gets a fresh unique run id, so a report from an earlier call is never reused, and runs in its
own directory under `<cookbook dir>/swebench_runs/`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from cookbook.docker_engine import check_engine
from cookbook.harnesses.grading import LOG_TAIL_CHARS, PATCH_DOES_NOT_APPLY
from cookbook.paths import cookbook_dir
from cookbook.seams import ERROR, RESOLVED, UNRESOLVED, HarnessError, ScoreResult

SWEBENCH_SPEC_FIELDS = ("image", "eval_script", "log_parser", "eval_type")


class SWEBenchHarness:
    """swebench's `run_evaluation` in Docker (`modal=False`) or on Modal (`modal=True`).

    Each call gets a fresh unique run id, so a report from an earlier call is never reused, and runs
    in its own directory under `<cookbook dir>/swebench_runs/`.
    """

    def __init__(
        self,
        modal: bool = False,
        workers: int = 4,
        timeout: float = 1800,
        runs_dir: Path | str | None = None,
        progress: bool = False,
    ):
        self.modal = modal
        self.name = "modal" if modal else "docker"
        self.version = "1"
        self.workers = workers
        self.timeout = timeout
        self.runs_dir = Path(runs_dir) if runs_dir else cookbook_dir() / "swebench_runs"

    def check_ready(self) -> None:
        """Raise HarnessError if the backend cannot run (no Docker engine, no Modal credentials)."""
        if self.modal:
            try:
                import modal  # noqa: F401
                from swebench.harness.modal_eval import validate_modal_credentials

                validate_modal_credentials()
            except ImportError as e:
                raise HarnessError(
                    "The modal harness needs the `modal` package: pip install modal, then `modal token new`."
                ) from e
            except RuntimeError as e:
                raise HarnessError(f"Modal is not set up: {e}") from e
            return
        check_engine(
            "The docker harness",
            "Use harness='local' for repositories that install with pip (such as the bundled benchmark), "
            "or harness='modal' to run SWE-bench's evaluation in Modal's cloud.",
        )

    def check(self, instances: list[dict]) -> None:
        """Rows carry the fields swebench 5 builds its test spec from, and the backend can run."""
        lacking = {inst["instance_id"]: [f for f in SWEBENCH_SPEC_FIELDS if not inst.get(f)] for inst in instances}
        lacking = {k: v for k, v in lacking.items() if v}
        if lacking:
            listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in list(lacking.items())[:5])
            raise HarnessError(
                f"swebench {self.name} evaluation builds its test spec from fields each row carries "
                f"({', '.join(SWEBENCH_SPEC_FIELDS)}); {len(lacking)} instance(s) lack them ({listed}). "
                "Load a current SWE-bench dataset that has them, or use harness='local'."
            )
        self.check_ready()

    def evaluate(self, instances: list[dict], patches: Mapping[str, str]) -> list[ScoreResult]:
        self.check(instances)
        run_id = f"cookbook-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        run_dir = self.runs_dir / run_id
        run_dir.mkdir(parents=True)
        dataset_file = run_dir / "instances.jsonl"
        predictions_file = run_dir / "predictions.jsonl"
        dataset_file.write_text("".join(json.dumps(inst, default=str) + "\n" for inst in instances))
        predictions_file.write_text(
            "".join(
                json.dumps(
                    {
                        "instance_id": i["instance_id"],
                        "model_name_or_path": "cookbook",
                        "model_patch": patches.get(i["instance_id"]) or "",
                    }
                )
                + "\n"
                for i in instances
            )
        )
        command = [
            sys.executable,
            "-m",
            "swebench.harness.run_evaluation",
            "--dataset_name",
            str(dataset_file),
            "--predictions_path",
            str(predictions_file),
            "--max_workers",
            str(self.workers),
            "--run_id",
            run_id,
            "--timeout",
            str(int(self.timeout)),
            "--modal",
            str(self.modal).lower(),
            "--report_dir",
            str(run_dir),
        ]
        done = subprocess.run(command, cwd=run_dir, capture_output=True, text=True)
        (run_dir / "run_evaluation.log").write_text(done.stdout + done.stderr)
        return [self._read_back(run_dir, run_id, inst["instance_id"], done) for inst in instances]

    def _read_back(
        self, run_dir: Path, run_id: str, instance_id: str, done: subprocess.CompletedProcess
    ) -> ScoreResult:
        from swebench.harness.constants import APPLY_PATCH_FAIL

        log_dir = run_dir / "logs" / "run_evaluation" / run_id / "cookbook" / instance_id
        test_output = log_dir / "test_output.txt"
        log = test_output.read_text(errors="replace") if test_output.exists() else ""
        report_file = log_dir / "report.json"
        if report_file.exists():
            report = json.loads(report_file.read_text()).get(instance_id, {})
            tests = report.get("tests_status", {})
            failed = [t for kind in ("FAIL_TO_PASS", "PASS_TO_PASS") for t in tests.get(kind, {}).get("failure", [])]
            if report.get("resolved"):
                return ScoreResult(instance_id, RESOLVED, "resolved (swebench report)", log[-LOG_TAIL_CHARS:])
            return ScoreResult(
                instance_id, UNRESOLVED, "failing tests: " + ", ".join(failed), log[-LOG_TAIL_CHARS:], failed
            )
        instance_log = log_dir / "run_instance.log"
        text = instance_log.read_text(errors="replace") if instance_log.exists() else (done.stdout + done.stderr)
        if APPLY_PATCH_FAIL in text:
            return ScoreResult(instance_id, UNRESOLVED, PATCH_DOES_NOT_APPLY, text[-LOG_TAIL_CHARS:])
        return ScoreResult(
            instance_id, ERROR, f"harness error: no report from swebench (see {log_dir})", text[-LOG_TAIL_CHARS:]
        )
