"""The Modal backends, up to the Modal client call (no credentials here)."""

import json

import pytest

from cookbook.agents.cline_modal import ModalClineAgent
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
