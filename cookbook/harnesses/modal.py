"""The modal harness: SWE-bench's evaluation of a row in a Modal sandbox made from its instance image.

swebench 5.0.2's own Modal path cannot run (it reads `TestSpec.setup_env_script` and
`install_repo_script`, which 5.0.2's TestSpec no longer has), so this is the project's own, the same
steps run_evaluation takes in Docker: per instance, a sandbox from the row's `image`; the model patch
applied with swebench's apply commands; the row's `eval_script` (as swebench's TestSpec shapes it) run
with a deadline; the log graded by swebench's `get_eval_report` with the row's `log_parser` and
`eval_type`, read as the docker harness reads its reports. An empty patch is `unresolved` without a
sandbox. Rows need swebench 5's fields and an image in a registry Modal can pull (a current SWE-bench
dataset); the project's locally built images are for the docker harness.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from cookbook.docker_engine import run_id
from cookbook.grading import LOG_TAIL_CHARS, PATCH_DOES_NOT_APPLY, report_verdict
from cookbook.harnesses.swebench import EMPTY_PATCH
from cookbook.images import SPEC_FIELDS, missing_spec_fields
from cookbook.modal_cloud import ModalUnavailable, modal_app, run_script, sandbox_from_image, write_file
from cookbook.paths import cookbook_dir
from cookbook.seams import ERROR, UNRESOLVED, HarnessError, ScoreResult

PATCH_PATH, EVAL_PATH = "/tmp/cookbook.patch", "/eval.sh"


class ModalHarness:
    """The rows' eval scripts in Modal sandboxes, `workers` at a time; `timeout` bounds one test run."""

    name = "modal"
    testbed = "docker"  # the instance image's /testbed, the image the eval script runs in
    version = "1"

    def __init__(
        self,
        workers: int = 4,
        timeout: float = 1800,
        runs_dir: Path | str | None = None,
        progress: bool = False,
        cpu: float = 2.0,
        memory_mb: int = 4096,
        repos_dir: Path | str | None = None,  # not read: the rows' registry images hold the repositories
    ):
        self.workers, self.timeout, self.progress = workers, timeout, progress
        self.runs_dir = Path(runs_dir) if runs_dir else cookbook_dir() / "modal_runs"
        self.cpu, self.memory_mb = cpu, memory_mb

    def check(self, instances: list[dict]) -> None:
        """Before any agent starts: every row carries its image and eval script, and Modal's client has
        credentials."""
        self._check_rows(instances)
        modal_app()  # without credentials: ModalUnavailable

    def evaluate(self, instances: list[dict], patches: Mapping[str, str]) -> list[ScoreResult]:
        self._check_rows(instances)
        to_run = [i for i in instances if (patches.get(i["instance_id"]) or "").strip()]
        results = {i["instance_id"]: ScoreResult(i["instance_id"], UNRESOLVED, EMPTY_PATCH) for i in instances}
        if to_run:
            app = modal_app()  # without credentials: ModalUnavailable, before any sandbox
            run_dir = self.runs_dir / run_id()
            with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
                futures = [pool.submit(self.score_one, app, i, patches[i["instance_id"]], run_dir) for i in to_run]
                for future in tqdm(futures, desc="modal scoring", disable=not self.progress):
                    result = future.result()
                    results[result.instance_id] = result
        return [results[i["instance_id"]] for i in instances]

    @staticmethod
    def _check_rows(instances: list[dict]) -> None:
        lacking = {i["instance_id"]: missing_spec_fields(i) for i in instances if missing_spec_fields(i)}
        if lacking:
            listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in list(lacking.items())[:5])
            raise HarnessError(
                f"The modal harness evaluates rows that carry swebench 5's fields ({', '.join(SPEC_FIELDS)}) "
                f"with an image Modal can pull; {len(lacking)} instance(s) lack them ({listed}). Load a current "
                "SWE-bench dataset, or use harness='docker' (it builds images for your own repositories)."
            )

    def score_one(self, app, instance: dict, patch: str, run_dir: Path) -> ScoreResult:
        """One instance in its own sandbox; an infrastructure failure is an ERROR row, never an exception
        (except missing credentials, which stop the run)."""
        from swebench.harness.run_evaluation import GIT_APPLY_CMDS
        from swebench.harness.utils import make_test_spec

        instance_id, start = instance["instance_id"], time.monotonic()
        log_dir = run_dir / instance_id
        log_dir.mkdir(parents=True, exist_ok=True)
        try:
            sandbox = sandbox_from_image(app, instance["image"], int(self.timeout) + 600, self.cpu, self.memory_mb)
            try:
                write_file(sandbox, PATCH_PATH, patch)
                apply_log = []
                for command in GIT_APPLY_CMDS:
                    output, code = run_script(sandbox, f"cd /testbed && {command} {PATCH_PATH}", timeout=300)
                    apply_log.append(f"$ {command}\n{output}")
                    if code == 0:
                        break
                    run_script(sandbox, "cd /testbed && git checkout -- . && git clean -fdq", timeout=300)
                else:
                    return ScoreResult(
                        instance_id, UNRESOLVED, PATCH_DOES_NOT_APPLY, "\n".join(apply_log)[-LOG_TAIL_CHARS:]
                    )
                write_file(sandbox, EVAL_PATH, make_test_spec(instance).eval_script)
                tests_start = time.monotonic()
                log, _ = run_script(sandbox, f"bash {EVAL_PATH}", timeout=int(self.timeout))
                timed_out = time.monotonic() - tests_start >= self.timeout
            finally:
                sandbox.terminate()
        except ModalUnavailable:
            raise
        except Exception as e:
            return ScoreResult(instance_id, ERROR, f"harness error: Modal sandbox: {type(e).__name__}: {e}")
        (log_dir / "test_output.txt").write_text(log)
        if timed_out:
            return ScoreResult(
                instance_id, UNRESOLVED, f"tests timed out after {self.timeout:g} s", log[-LOG_TAIL_CHARS:]
            )
        result = self.grade(instance, patch, log_dir / "test_output.txt")
        result.duration_s = round(time.monotonic() - start, 2)
        return result

    @staticmethod
    def grade(instance: dict, patch: str, log_path: Path) -> ScoreResult:
        """The verdict on an eval script's log, graded by swebench as run_evaluation grades it."""
        from swebench.harness.grading import get_eval_report
        from swebench.harness.utils import make_test_spec

        prediction = {"instance_id": instance["instance_id"], "model_name_or_path": "cookbook", "model_patch": patch}
        report = get_eval_report(make_test_spec(instance), prediction, str(log_path), include_tests_status=True)
        log = log_path.read_text(errors="replace")
        outcome, reason, failed = report_verdict(report[instance["instance_id"]], log, str(log_path))
        return ScoreResult(instance["instance_id"], outcome, reason, log[-LOG_TAIL_CHARS:], failed)
