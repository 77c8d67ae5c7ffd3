"""Scoring harnesses: patch → pass / fail / error, with the reason and the test log.

One protocol, three adapters:
- `LocalHarness` (`"local"`): no Docker. A fresh workspace per instance, the model patch and then
  the `test_patch` applied as SWE-bench's eval scripts do, the FAIL_TO_PASS and PASS_TO_PASS tests
  run with pytest in an environment built once per repository and version, and the log graded by
  swebench's own parser and grading code. For repositories that install with pip (the bundled
  benchmark, a user's own).
- `SWEBenchHarness` (`"docker"`, `"modal"`): swebench's `run_evaluation`, for real SWE-bench
  instances whose environments live in their instance images.

Contract (as gepa's adapters): one result per instance, in the order given; an instance's own
failure is a result (`fail` or `error` with its reason), never an exception. Exceptions are for
systemic failures only: no Docker engine, no Modal credentials, rows without the fields a harness
needs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd
from tqdm.auto import tqdm

from config import cookbook_dir
from util import GitError, file_lock, git
from workspaces import prepare_workspace, remove_workspace

PASS, FAIL, ERROR = "pass", "fail", "error"
PATCH_DOES_NOT_APPLY = "patch does not apply"
LOG_TAIL_CHARS = 20_000


@dataclass
class ScoreResult:
    """The harness's verdict on one instance's patch."""

    instance_id: str
    pass_or_fail: str  # "pass" | "fail" | "error"
    reason: str
    test_log: str = ""
    failed_tests: list[str] = field(default_factory=list)
    duration_s: float = 0.0


class HarnessError(RuntimeError):
    """The harness cannot run at all (not one instance's problem); the message says what to do."""


class Harness(Protocol):
    name: str
    version: str

    def evaluate(self, instances: list[dict], patches: Mapping[str, str]) -> list[ScoreResult]:
        """Score `patches[instance_id]` (missing or "" = the empty patch) for every instance."""
        ...


def get_harness(name: str, **options) -> Harness:
    """`"local"`, `"docker"` or `"modal"`; options go to the adapter (workers, timeout, repos_dir …)."""
    if name == "local":
        return LocalHarness(**options)
    if name in ("docker", "modal"):
        options.pop("repos_dir", None)  # the instance images hold the repositories
        return SWEBenchHarness(modal=name == "modal", **options)
    raise ValueError(f"Unknown harness {name!r}; use 'local', 'docker' or 'modal'.")


def score_patches(instances: pd.DataFrame | list[dict], patches: Mapping[str, str], harness: Harness) -> pd.DataFrame:
    """Score patches and return one row per instance: instance_id, pass_or_fail, reason, failed_tests,
    duration_s, test_log."""
    rows = _rows(instances)
    return pd.DataFrame([asdict(r) for r in harness.evaluate(rows, patches)])


def _rows(instances: pd.DataFrame | list[dict]) -> list[dict]:
    return instances.to_dict("records") if isinstance(instances, pd.DataFrame) else list(instances)


def as_test_list(value) -> list[str]:
    """A `failed_tests` value as a list: a list or array as is, or its text as read back from a CSV."""
    if isinstance(value, str):
        if not value.startswith("["):
            return [value] if value else []
        try:
            return list(json.loads(value.replace("'", '"')))
        except ValueError:
            return [value]
    return list(value) if isinstance(value, (list, tuple)) or hasattr(value, "tolist") else []


def patched_files(patch: str) -> list[str]:
    """The files a patch touches (their paths after the patch), in order."""
    from unidiff import PatchSet

    return [f.path for f in PatchSet(patch)]


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Colour codes off: a pytest forced into colour (FORCE_COLOR in a notebook kernel) must still grade."""
    return ANSI_ESCAPE.sub("", text)


def grade(log: str, instance: dict) -> tuple[bool, list[str], int]:
    """Grade a pytest `-rA` log exactly as SWE-bench does; return (resolved, failing test ids, how many
    test results the log holds)."""
    from swebench.harness.constants import FAIL_TO_PASS, PASS_TO_PASS, ResolvedStatus
    from swebench.harness.grading import get_eval_tests_report, get_resolution_status
    from swebench.harness.log_parsers.python import parse_log_pytest

    status_map = parse_log_pytest(strip_ansi(log), None)
    report = get_eval_tests_report(
        status_map, {FAIL_TO_PASS: instance["FAIL_TO_PASS"], PASS_TO_PASS: instance["PASS_TO_PASS"]}
    )
    failing = report[FAIL_TO_PASS]["failure"] + report[PASS_TO_PASS]["failure"]
    return get_resolution_status(report) == ResolvedStatus.FULL.value, failing, len(status_map)


class LocalHarness:
    """Docker-less harness for repositories that install with pip.

    Per instance, `install` (default: `python -m pip install -e .` when the repository has a
    `pyproject.toml` or `setup.py`) runs once per repository and version in a virtualenv under
    `<cookbook dir>/envs/`; `test_cmd` (default: `python -m pytest -rA --color=no`) is run on the test files
    that `test_patch` touches, with the workspace's code first on `PYTHONPATH`.
    """

    name = "local"
    version = "2"  # part of the key of stored scores: bump when grading changes, so old verdicts are not reused

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
        self.envs_dir = Path(envs_dir) if envs_dir else cookbook_dir() / "envs"
        self.progress = progress

    def evaluate(self, instances: list[dict], patches: Mapping[str, str]) -> list[ScoreResult]:
        instances = _rows(instances)
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
        instance_id = instance["instance_id"]

        def result(verdict: str, reason: str, log: str = "", failed: list[str] | None = None) -> ScoreResult:
            return ScoreResult(
                instance_id, verdict, reason, log[-LOG_TAIL_CHARS:], failed or [], round(time.monotonic() - start, 2)
            )

        try:
            env_dir = self.environment(instance)
            workspace = prepare_workspace(instance, root=self.envs_dir.parent / "workspaces", repos_dir=self.repos_dir)
        except Exception as e:
            return result(ERROR, f"harness error: {e}")
        try:
            if patch.strip():
                applied, apply_log = apply_patch(workspace, patch)
                if not applied:
                    return result(FAIL, PATCH_DOES_NOT_APPLY, apply_log)
            test_files = patched_files(instance["test_patch"])
            try:
                _reset_files(workspace, instance["base_commit"], test_files)
                git("apply", "-", cwd=workspace, input=instance["test_patch"])
            except GitError as e:
                return result(ERROR, f"harness error: test_patch does not apply: {e}")
            log, timed_out = self._run_tests(instance, workspace, env_dir, test_files)
            if timed_out:
                return result(FAIL, f"tests timed out after {self.timeout:g} s", log)
            resolved, failing, results_seen = grade(log, instance)
            if resolved:
                n = len(instance["FAIL_TO_PASS"]) + len(instance["PASS_TO_PASS"])
                return result(PASS, f"all {n} FAIL_TO_PASS and PASS_TO_PASS tests pass", log)
            if not results_seen and not patch.strip():
                return result(ERROR, "harness error: the test run reported no results (see test_log)", log)
            return result(FAIL, "failing tests: " + ", ".join(failing), log, failing)
        except Exception as e:
            return result(ERROR, f"harness error: {type(e).__name__}: {e}")
        finally:
            remove_workspace(workspace)

    def environment(self, instance: dict) -> Path:
        """The virtualenv for this instance's repository and version, built on first use."""
        install = instance.get("install") or ""
        install_hash = hashlib.sha1(install.encode()).hexdigest()[:8]
        key = f"{instance['repo'].replace('/', '__')}-{instance['version']}-{install_hash}"
        env_dir = self.envs_dir / key
        with file_lock(self.envs_dir / f"{key}.lock"):
            if (env_dir / "ready").exists():
                return env_dir
            shutil.rmtree(env_dir, ignore_errors=True)
            env_dir.mkdir(parents=True)
            log_path = env_dir / "install.log"
            src = prepare_workspace(instance, root=env_dir, repos_dir=self.repos_dir)
            src.rename(env_dir / "src")
            src = env_dir / "src"
            if not install and ((src / "pyproject.toml").exists() or (src / "setup.py").exists()):
                install = "python -m pip install -e ."
            steps = [
                [sys.executable, "-m", "venv", str(env_dir / "venv")],
                ["bash", "-c", "python -m pip install -q pytest"],
                *([["bash", "-c", install]] if install else []),
            ]
            with open(log_path, "w") as log:
                for step in steps:
                    log.write(f"$ {shlex.join(step)}\n")
                    log.flush()
                    done = subprocess.run(
                        step, cwd=src, env=self._env(env_dir, src), stdout=log, stderr=subprocess.STDOUT
                    )
                    if done.returncode != 0:
                        tail = log_path.read_text()[-2000:]
                        raise HarnessError(f"building the environment {env_dir} failed at {shlex.join(step)}:\n{tail}")
            (env_dir / "ready").write_text(json.dumps({"install": install, "built_at": time.time()}))
            return env_dir

    def agent_env(self, instance: dict, workspace: Path) -> dict[str, str]:
        """Environment variables that put the repository's environment first for a process working
        in `workspace` (an agent running the tests sees what the harness sees)."""
        return self._env(self.environment(instance), workspace)

    def _env(self, env_dir: Path, workspace: Path) -> dict[str, str]:
        venv = env_dir / "venv"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV")}
        code_paths = [p for p in (workspace / "src", workspace) if p.is_dir()]
        env.update(
            PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            VIRTUAL_ENV=str(venv),
            PYTHONPATH=os.pathsep.join(map(str, code_paths)),
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def _run_tests(self, instance: dict, workspace: Path, env_dir: Path, test_files: list[str]) -> tuple[str, bool]:
        command = instance.get("test_cmd") or "python -m pytest -rA --color=no -p no:cacheprovider"
        command = f"{command} {shlex.join(test_files)}"
        return run_with_deadline(["bash", "-c", command], workspace, self._env(env_dir, workspace), self.timeout)


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


def apply_patch(workspace: Path, patch: str) -> tuple[bool, str]:
    """Apply a model patch the way SWE-bench does: each of its apply commands in turn."""
    from swebench.harness.run_evaluation import GIT_APPLY_CMDS

    patch_file = workspace / ".git" / "model.patch"
    patch_file.write_text(patch)
    log = []
    for command in GIT_APPLY_CMDS:
        done = subprocess.run(shlex.split(command) + [str(patch_file)], cwd=workspace, capture_output=True, text=True)
        log.append(f"$ {command}\n{done.stdout}{done.stderr}")
        if done.returncode == 0:
            return True, "\n".join(log)
        git("reset", "-q", "--hard", cwd=workspace)  # undo a partial apply before the next try
        git("clean", "-qfd", "-e", ".git", cwd=workspace)
    return False, "\n".join(log)


def _reset_files(workspace: Path, base_commit: str, paths: list[str]) -> None:
    """Put the test files back as they were at base_commit (removing ones that did not exist), as
    SWE-bench's eval scripts do before applying the test patch."""
    existing = git("ls-tree", "--name-only", base_commit, "--", *paths, cwd=workspace).splitlines()
    if existing:
        git("checkout", base_commit, "--", *existing, cwd=workspace)
    for path in set(paths) - set(existing):
        (workspace / path).unlink(missing_ok=True)


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
        try:
            import docker

            docker.from_env(timeout=10).ping()
        except Exception as e:
            raise HarnessError(
                f"The docker harness needs a running Docker engine, and none answers ({type(e).__name__}: {e}). "
                "Use harness='local' for repositories that install with pip (such as the bundled benchmark), "
                "or harness='modal' to run SWE-bench's evaluation in Modal's cloud."
            ) from e

    def evaluate(self, instances: list[dict], patches: Mapping[str, str]) -> list[ScoreResult]:
        instances = _rows(instances)
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
                return ScoreResult(instance_id, PASS, "resolved (swebench report)", log[-LOG_TAIL_CHARS:])
            return ScoreResult(instance_id, FAIL, "failing tests: " + ", ".join(failed), log[-LOG_TAIL_CHARS:], failed)
        instance_log = log_dir / "run_instance.log"
        text = instance_log.read_text(errors="replace") if instance_log.exists() else (done.stdout + done.stderr)
        if APPLY_PATCH_FAIL in text:
            return ScoreResult(instance_id, FAIL, PATCH_DOES_NOT_APPLY, text[-LOG_TAIL_CHARS:])
        return ScoreResult(
            instance_id, ERROR, f"harness error: no report from swebench (see {log_dir})", text[-LOG_TAIL_CHARS:]
        )


def validate_benchmark(instances: pd.DataFrame, harness: Harness) -> pd.DataFrame:
    """Check a benchmark's rule: every gold patch resolves and every empty patch does not.

    Returns one row per instance: instance_id, gold, empty (each pass / fail / error), ok, why.
    """
    rows = _rows(instances)
    gold = harness.evaluate(rows, {r["instance_id"]: r["patch"] for r in rows})
    empty = harness.evaluate(rows, {})
    table = []
    for inst, g, e in zip(rows, gold, empty, strict=True):
        why = []
        if g.pass_or_fail != PASS:
            why.append(f"gold patch: {g.pass_or_fail} ({g.reason})")
        if e.pass_or_fail != FAIL:
            why.append(f"empty patch: {e.pass_or_fail} ({e.reason})")
        table.append(
            {
                "instance_id": inst["instance_id"],
                "gold": g.pass_or_fail,
                "empty": e.pass_or_fail,
                "ok": not why,
                "why": "; ".join(why),
                "gold_s": g.duration_s,
                "empty_s": e.duration_s,
            }
        )
    return pd.DataFrame(table)
