import pytest

from cookbook.grading import PATCH_DOES_NOT_APPLY, patched_files
from cookbook.harnesses import get_harness
from cookbook.seams import HarnessError
from cookbook.workspaces.checkout import collect_patch, prepare_workspace, remove_workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def one(bundled):
    return bundled.iloc[[0]]


def test_gold_passes_and_empty_fails(one, local_harness):
    inst = one.iloc[0]
    gold = local_harness.evaluate(one.to_dict("records"), {inst["instance_id"]: inst["patch"]})[0]
    assert gold.outcome == "resolved", gold.reason + gold.test_log[-2000:]
    empty = local_harness.evaluate(one.to_dict("records"), {})[0]
    assert empty.outcome == "unresolved"
    assert set(empty.failed_tests) & set(inst["FAIL_TO_PASS"])
    assert "PASSED" in empty.test_log and "FAILED" in empty.test_log


def test_coloured_test_output_still_grades(one, local_harness):
    """A test command forced into colour (as in a notebook kernel with FORCE_COLOR) grades the same."""
    inst = {**one.iloc[0].to_dict(), "test_cmd": "python -m pytest -rA --color=yes -p no:cacheprovider"}
    gold = local_harness.evaluate([inst], {inst["instance_id"]: inst["patch"]})[0]
    assert "\x1b[" in gold.test_log
    assert gold.outcome == "resolved", gold.reason
    empty = local_harness.evaluate([inst], {})[0]
    assert empty.outcome == "unresolved" and set(empty.failed_tests) & set(inst["FAIL_TO_PASS"])


def test_a_wrong_patch_fails(one, local_harness):
    inst = one.iloc[0]
    # A patch that applies but fixes nothing: the gold patch's files with a harmless comment added.
    target = patched_files(inst["patch"])[0]
    wrong = f"diff --git a/{target} b/{target}\n--- a/{target}\n+++ b/{target}\n@@ -1,0 +1,1 @@\n+# not a fix\n"
    result = local_harness.evaluate(one.to_dict("records"), {inst["instance_id"]: wrong})[0]
    assert result.outcome == "unresolved" and result.reason.startswith("failing tests:")


def test_a_patch_that_does_not_apply_fails_with_that_reason(one, local_harness):
    inst = one.iloc[0]
    bogus = (
        "diff --git a/nowhere.py b/nowhere.py\n--- a/nowhere.py\n+++ b/nowhere.py\n@@ -1,2 +1,2 @@\n-a\n-b\n+c\n+d\n"
    )
    result = local_harness.evaluate(one.to_dict("records"), {inst["instance_id"]: bogus})[0]
    assert result.outcome == "unresolved"
    assert result.reason == PATCH_DOES_NOT_APPLY


def test_a_model_edit_to_test_files_cannot_hide_the_hidden_tests(one, local_harness):
    inst = one.iloc[0]
    # A patch that deletes the test file: the harness restores test files before the test patch.
    ws = prepare_workspace(inst.to_dict())
    (ws / patched_files(inst["test_patch"])[0]).unlink()
    cheat = collect_patch(ws, inst["base_commit"])
    remove_workspace(ws)
    assert "deleted file mode" in cheat
    result = local_harness.evaluate(one.to_dict("records"), {inst["instance_id"]: cheat})[0]
    assert result.outcome == "unresolved", result.reason


def test_environment_is_built_once_and_puts_its_python_first(one, local_harness, tmp_path):
    inst = one.iloc[0].to_dict()
    env_dir = local_harness.environment(inst)
    assert (env_dir / "ready").exists()
    assert local_harness.environment(inst) == env_dir
    env = local_harness.envs.agent_env(inst, tmp_path)
    assert env["PATH"].startswith(str(env_dir / "venv" / "bin"))


def test_docker_harness_without_an_engine_says_so(one, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # where no engine answers
    inst = one.iloc[0].to_dict()
    harness = get_harness("docker")
    with pytest.raises(HarnessError) as err:
        harness.evaluate([inst], {inst["instance_id"]: inst["patch"]})
    message = str(err.value)
    assert "Docker engine" in message and "harness='local'" in message and "harness='modal'" in message
    assert "make docker-engine" in message


def test_docker_harness_scores_an_empty_patch_without_an_engine(one, monkeypatch, tmp_path):
    """swebench drops an empty patch and writes no report: it is the agent's unresolved, not an error."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    result = get_harness("docker").evaluate(one.to_dict("records"), {})[0]
    assert (result.outcome, result.reason) == ("unresolved", "empty patch")


def test_a_row_with_some_of_swebenchs_fields_is_named_before_any_work(one, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    inst = {**one.iloc[0].to_dict(), "image": "swebench/sweb.eval.x86_64.example:latest"}
    with pytest.raises(HarnessError) as err:
        get_harness("docker").evaluate([inst], {inst["instance_id"]: inst["patch"]})
    message = str(err.value)
    assert inst["instance_id"] in message
    assert all(f in message for f in ("eval_script", "log_parser", "eval_type"))
