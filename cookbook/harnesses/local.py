"""The Docker-less harness, for repositories that install with pip (the bundled benchmark, a user's own).

Per instance: a fresh workspace; the model patch applied with SWE-bench's apply commands; the test files
reset and `test_patch` applied, as SWE-bench's eval scripts do; the tests run with pytest in the
repository's virtualenv (`cookbook.workspaces.virtualenv`, built once per repository and version) with the
workspace's code first on PYTHONPATH; the log graded by swebench's own parser and grading code.
`test_cmd` (default `python -m pytest -rA --color=no`) runs on the test files that `test_patch` touches.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from cookbook.data.repositories import check_repositories
from cookbook.git import GitError, git
from cookbook.grading import (
    DEFAULT_TEST_CMD,
    LOG_TAIL_CHARS,
    PATCH_DOES_NOT_APPLY,
    apply_patch,
    grade,
    patched_files,
    reset_files,
)
from cookbook.images import refuse_images
from cookbook.seams import ERROR, RESOLVED, UNRESOLVED, ScoreResult
from cookbook.workspaces.checkout import prepare_workspace, remove_workspace
from cookbook.workspaces.virtualenv import VirtualEnvs, env_vars


class LocalHarness:
    """Scores patches by running the tests on this machine, in the repository's virtualenv."""

    name = "local"
    testbed = "local"  # a checkout with the repository's virtualenv, as the tests run
    version = "3"  # part of the key of stored scores: bump when grading changes, so old verdicts are not reused

    def __init__(
        self,
        workers: int = 2,
        timeout: float = 300,
        repos_dir: Path | str | None = None,
        envs_dir: Path | str | None = None,
        progress: bool = False,
    ):
        self.workers = workers
        self.timeout = timeout
        self.repos_dir = repos_dir
        self.envs = VirtualEnvs(envs_dir, repos_dir)
        self.progress = progress

    def check(self, instances: list[dict]) -> None:
        check_repositories(instances, self.repos_dir)

    def environment(self, instance: dict) -> Path:
        return self.envs.environment(instance)

    def evaluate(self, instances: list[dict], patches: Mapping[str, str]) -> list[ScoreResult]:
        refuse_images(instances)  # their environments live in their images
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            futures = [pool.submit(self.score_one, inst, patches.get(inst["instance_id"]) or "") for inst in instances]
            bar = tqdm(total=len(futures), desc="scoring", disable=not self.progress)
            results = []
            for future in futures:
                results.append(future.result())
                bar.update()
            bar.close()
        return results

    def score_one(self, instance: dict, patch: str) -> ScoreResult:
        start = time.monotonic()

        def result(outcome: str, reason: str, log: str = "", failed: list[str] | None = None) -> ScoreResult:
            seconds = round(time.monotonic() - start, 2)
            return ScoreResult(instance["instance_id"], outcome, reason, log[-LOG_TAIL_CHARS:], failed or [], seconds)

        try:
            env_dir = self.environment(instance)
            workspace = prepare_workspace(
                instance, root=self.envs.envs_dir.parent / "workspaces", repos_dir=self.repos_dir
            )
        except Exception as e:
            return result(ERROR, f"harness error: {e}")
        try:
            if patch.strip():
                applied, apply_log = apply_patch(workspace, patch)
                if not applied:
                    return result(UNRESOLVED, PATCH_DOES_NOT_APPLY, apply_log)
            test_files = patched_files(instance["test_patch"])
            try:
                reset_files(workspace, instance["base_commit"], test_files)
                git("apply", "-", cwd=workspace, input=instance["test_patch"])
            except GitError as e:
                return result(ERROR, f"harness error: test_patch does not apply: {e}")
            log, timed_out = self._run_tests(instance, workspace, env_dir, test_files)
            if timed_out:
                return result(UNRESOLVED, f"tests timed out after {self.timeout:g} s", log)
            resolved, failing, results_seen = grade(log, instance)
            if resolved:
                n = len(instance["FAIL_TO_PASS"]) + len(instance["PASS_TO_PASS"])
                return result(RESOLVED, f"all {n} FAIL_TO_PASS and PASS_TO_PASS tests pass", log)
            if not results_seen and not patch.strip():
                return result(ERROR, "harness error: the test run reported no results (see test_log)", log)
            return result(UNRESOLVED, "failing tests: " + ", ".join(failing), log, failing)
        except Exception as e:
            return result(ERROR, f"harness error: {type(e).__name__}: {e}")
        finally:
            remove_workspace(workspace)

    def _run_tests(self, instance: dict, workspace: Path, env_dir: Path, test_files: list[str]) -> tuple[str, bool]:
        command = instance.get("test_cmd") or DEFAULT_TEST_CMD
        command = f"{command} {shlex.join(test_files)}"
        return run_with_deadline(["bash", "-c", command], workspace, env_vars(env_dir, workspace), self.timeout)


def run_with_deadline(command: list[str], cwd: Path, env: dict, timeout: float) -> tuple[str, bool]:
    """Run a command in its own process group; on timeout kill the whole group. → (output, timed_out)."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        return out, False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return out, True
