"""The Modal backends, up to the Modal client call (no credentials here), and the modal harness's grading."""

import json

import pytest

from cookbook.agents.cline_modal import ModalClineAgent
from cookbook.harnesses import get_harness
from cookbook.harnesses.modal import ModalHarness
from cookbook.modal_cloud import ModalUnavailable
from cookbook.seams import Endpoint, HarnessError
from run_act import run_act


@pytest.fixture
def no_modal_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("MODAL_TOKEN_ID", raising=False)
    monkeypatch.delenv("MODAL_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("MODAL_CONFIG_PATH", str(tmp_path / "no-modal.toml"))


def test_run_act_with_the_modal_agent_stops_at_the_modal_client_with_a_clear_error(
    bundled, tmp_path, no_modal_credentials
):
    spec = {"eval_script": "true", "log_parser": "parse_log_pytest", "eval_type": "pass_and_fail"}
    rows = [{**bundled.iloc[0].to_dict(), "image": "swebench/sweb.eval.x86_64.example:latest", **spec}]
    dataset = tmp_path / "tasks.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # stopped before any agent starts: Modal (the harness's or the sandbox agent's) is not set up
    with pytest.raises(HarnessError, match="modal token new"):
        run_act(
            str(dataset),
            None,
            "modal",
            "- a rule\n",
            workers=1,
            agent="cline-modal",
            harness="modal",
            endpoint=Endpoint("http://127.0.0.1:9/v1", "k", "m"),
            runs_dir=tmp_path / "runs",
            progress=False,
        )
    assert not any((tmp_path / "runs").glob("*/*/agent.json"))  # nothing stored as if it had run


def test_the_sandbox_needs_a_public_gateway_url(monkeypatch):
    monkeypatch.delenv("COOKBOOK_GATEWAY_PUBLIC_URL", raising=False)
    with pytest.raises(ModalUnavailable, match="COOKBOOK_GATEWAY_PUBLIC_URL"):
        ModalClineAgent("m").sandbox_base_url("http://127.0.0.1:5000/runs/key/v1")
    agent = ModalClineAgent("m", public_gateway_url="https://gw.example.test/")
    assert agent.sandbox_base_url("http://127.0.0.1:5000/runs/key/v1") == "https://gw.example.test/runs/key/v1"


def _swebench_row(bundled) -> dict:
    """A bundled task as a current SWE-bench dataset carries it: a registry image and its eval script."""
    from cookbook.images.environment import log_parser
    from cookbook.images.eval_script import EVAL_TYPE, make_eval_script

    inst = bundled.iloc[0].to_dict()
    return {
        **inst,
        "image": "swebench/sweb.eval.x86_64.example:latest",
        "eval_script": make_eval_script(inst),
        "log_parser": log_parser(inst["repo"]),
        "eval_type": EVAL_TYPE,
    }


def test_the_modal_harness_stops_at_the_modal_client_without_credentials(bundled, no_modal_credentials):
    row = _swebench_row(bundled)
    harness = get_harness("modal")
    assert harness.evaluate([row], {})[0].reason == "empty patch"  # no sandbox for an empty patch
    with pytest.raises(ModalUnavailable, match="modal token new"):
        harness.evaluate([row], {row["instance_id"]: row["patch"]})


def test_the_modal_harness_needs_rows_with_registry_images(bundled, no_modal_credentials):
    inst = bundled.iloc[0].to_dict()
    with pytest.raises(HarnessError, match="harness='docker'"):
        get_harness("modal").evaluate([inst], {inst["instance_id"]: inst["patch"]})


def _eval_log(passed: list[str], failed: list[str], exit_code: int) -> str:
    """A log as the eval script prints it under `set -x`: swebench's markers around pytest's -rA summary."""
    lines = ["+ cd /testbed", "+ : '>>>>> Start Test Output'", "+ python -m pytest -rA tests/test_config.py"]
    lines += [f"PASSED {t}" for t in passed] + [f"FAILED {t} - AssertionError" for t in failed]
    lines += [f"+ SWEBENCH_TEST_EXIT_CODE={exit_code}", "+ : '>>>>> End Test Output'"]
    lines += [f">>>>> Test Exit Code: {exit_code}"]
    return "\n".join(lines) + "\n"


def test_modal_grading_reads_the_eval_scripts_log_with_swebenchs_parser(bundled, tmp_path):
    row = _swebench_row(bundled)
    f2p, p2p = row["FAIL_TO_PASS"], row["PASS_TO_PASS"]
    log = tmp_path / "test_output.txt"

    log.write_text(_eval_log(f2p + p2p, [], 0))
    resolved = ModalHarness.grade(row, row["patch"], log)
    assert resolved.outcome == "resolved" and "PASSED" in resolved.test_log

    log.write_text(_eval_log(p2p, f2p, 1))
    unresolved = ModalHarness.grade(row, row["patch"], log)
    assert unresolved.outcome == "unresolved" and unresolved.failed_tests == f2p

    log.write_text("+ cd /testbed\nCannot connect to the Docker daemon at unix:///var/run/docker.sock\n")
    broken = ModalHarness.grade(row, row["patch"], log)
    assert broken.outcome == "error" and "infrastructure failure (container_unavailable)" in broken.reason

    log.write_text(">>>>> Tests Errored: the test patch does not apply\n")
    no_tests = ModalHarness.grade(row, row["patch"], log)
    assert no_tests.outcome == "error" and "test patch does not apply" in no_tests.reason
