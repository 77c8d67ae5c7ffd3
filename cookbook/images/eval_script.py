"""The eval script of a row that carries none (the bundled benchmark, a user's own JSONL, SWE-bench rows in
the dataset's classic columns), in the shape of SWE-bench's: reset the test files, apply the test patch, run
the tests between swebench's markers, reset the test files again. Its command and log parser come from
`cookbook.images.environment` (the row's `test_cmd`, the repository's known command, or pytest)."""

from __future__ import annotations

import shlex

from cookbook.images.environment import command_for_tests, patched_files

EVAL_TYPE = "pass_and_fail"
NO_TEST_PATCH = "the test patch does not apply"


def make_eval_script(instance: dict) -> str:
    """The bash script run_evaluation runs in the instance image (with the model patch applied in
    /testbed); a test patch that does not apply says so with swebench's TESTS_ERROR marker."""
    from swebench.harness.constants import END_TEST_OUTPUT, START_TEST_OUTPUT, TESTS_ERROR
    from swebench.utils import generate_heredoc_delimiter

    base = shlex.quote(instance["base_commit"])
    test_patch = instance["test_patch"]
    # a file the test patch creates does not exist at the base commit: remove what the model put there
    reset = [
        f"git checkout {base} -- {shlex.quote(f)} 2>/dev/null || rm -f {shlex.quote(f)}"
        for f in patched_files(test_patch)
    ]
    delimiter = generate_heredoc_delimiter(test_patch)
    return "\n".join(
        [
            "#!/bin/bash",
            "set -uxo pipefail",
            "cd /testbed",
            *reset,
            f"git apply --verbose - <<'{delimiter}' || {{ echo '{TESTS_ERROR}: {NO_TEST_PATCH}'; exit 1; }}",
            test_patch.rstrip("\n"),
            delimiter,
            f": '{START_TEST_OUTPUT}'",
            command_for_tests(instance),
            f": '{END_TEST_OUTPUT}'",
            *reset,
            "",
        ]
    )
