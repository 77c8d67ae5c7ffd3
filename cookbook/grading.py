"""Grading as SWE-bench does it: apply a patch with its apply commands, read a pytest log with its parser.

Shared by the harnesses, the judge (which failing tests to show) and Phoenix (the evaluation's explanation),
and by the rulesets, the trajectories, mining and `evaluate.py`: so it sits at the top of the package, below
all of them (it was `harnesses/grading.py`, which made those modules reach into the harnesses' folder).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

from cookbook.git import git
from cookbook.seams import ERROR, RESOLVED, UNRESOLVED

PATCH_DOES_NOT_APPLY = "patch does not apply"
NO_RESULTS = "the tests reported no results"  # with a patch: the patch's fault only if they do without it
NO_TARGET_TESTS = "none of FAIL_TO_PASS ran"

# A patch that changes no code (it adds one file no test reads): the tests run without the fix. validate-benchmark's
# "empty" patch (a truly empty one is scored without running the tests), and the docker harness's check of
# whether an instance's tests report results at all.
NO_CHANGE_PATCH = """\
diff --git a/.cookbook-no-change b/.cookbook-no-change
new file mode 100644
--- /dev/null
+++ b/.cookbook-no-change
@@ -0,0 +1 @@
+validate-benchmark: the tests run without the fix
"""
DEFAULT_TEST_CMD = "python -m pytest -rA --color=no -p no:cacheprovider"  # the test files are appended
LOG_TAIL_CHARS = 20_000


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


def test_name(test_id: str) -> str:
    """A test's own name, as a rule or a problem statement would say it: `test_x` of `tests/a.py::T::test_x[1]`
    (pytest) or of `test_x (module.T)` and `module.T.test_x` (Django, unittest)."""
    head = test_id.split("[", 1)[0].split(" (", 1)[0].strip()
    return re.split(r"::|\.|/", head)[-1]


def patched_files(patch: str) -> list[str]:
    """The files a patch touches (their paths after the patch), in order."""
    from unidiff import PatchSet

    return [f.path for f in PatchSet(patch)]


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # any CSI sequence: colours, cursor, modes


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


def reset_files(workspace: Path, base_commit: str, paths: list[str]) -> None:
    """Put the test files back as they were at base_commit (removing ones that did not exist), as
    SWE-bench's eval scripts do before applying the test patch."""
    existing = git("ls-tree", "--name-only", base_commit, "--", *paths, cwd=workspace).splitlines()
    if existing:
        git("checkout", base_commit, "--", *existing, cwd=workspace)
    for path in set(paths) - set(existing):
        (workspace / path).unlink(missing_ok=True)


def report_verdict(report: dict, test_log: str, where: str) -> tuple[str, str, list[str]]:
    """(outcome, reason, failing tests) from swebench's report of one instance (`get_eval_report`'s entry,
    as run_evaluation writes it to report.json) for a non-empty patch; `where` names the instance's logs."""
    from swebench.harness.constants import FAIL_TO_PASS, PASS_TO_PASS, TESTS_ERROR

    if report.get("resolved"):
        return RESOLVED, "all FAIL_TO_PASS and PASS_TO_PASS tests pass (swebench report)", []
    if report.get("infra_failure"):
        reason = report.get("infra_failure_reason", "")
        return ERROR, f"harness error: infrastructure failure ({reason}), not the patch's; see {where}", []
    if TESTS_ERROR in test_log:
        return ERROR, f"harness error: the test patch does not apply; see {where}", []
    if not report.get("patch_successfully_applied"):  # swebench's name for "the log holds test results"
        return UNRESOLVED, f"{NO_RESULTS} (see test_log, {where})", []
    tests = report.get("tests_status") or {}
    failed = [t for kind in (FAIL_TO_PASS, PASS_TO_PASS) for t in tests.get(kind, {}).get("failure", [])]
    return UNRESOLVED, "failing tests: " + ", ".join(failed), failed
