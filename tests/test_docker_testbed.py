"""Agents on real SWE-bench instances need a Docker engine; here there is none, so: the clear error before
any agent starts, and the shims the container would use."""

import json
import subprocess

import pytest

from cookbook.docker_engine import DockerUnavailable
from cookbook.llm.scripted_server import Reply, ScriptedLLM
from cookbook.seams import Endpoint
from cookbook.testbeds.docker import shim_script
from run_act import run_act


def test_without_an_engine_run_act_stops_before_any_agent_starts(bundled, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # where no engine answers
    rows = [
        {
            **bundled.iloc[0].to_dict(),
            "image": "swebench/sweb.eval.x86_64.example:latest",
            "eval_script": "x",
            "log_parser": "parse_log_pytest",
            "eval_type": "pass_and_fail",
        }
    ]
    dataset = tmp_path / "tasks.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with ScriptedLLM(lambda r: Reply(content="done"), models={"m"}) as llm:
        with pytest.raises(DockerUnavailable) as err:
            run_act(
                str(dataset),
                None,
                "docker",
                "",
                workers=1,
                harness="docker",
                endpoint=Endpoint(llm.base_url, "k", "m"),
                runs_dir=tmp_path / "runs",
                progress=False,
            )
        assert llm.requests == []
    message = str(err.value)
    assert "Docker engine" in message and "cline-modal" in message and "harness='local'" in message
    assert not (tmp_path / "runs").exists()


def test_the_shims_run_the_command_in_the_container_in_the_matching_directory(tmp_path):
    script = shim_script("pytest", "cookbook-abc123", tmp_path / "testbed")
    path = tmp_path / "pytest"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)]).returncode == 0  # valid shell
    assert f'rel="${{PWD#{tmp_path / "testbed"}}}"' in script
    assert 'docker exec -i -w "/testbed$rel" cookbook-abc123 bash -c' in script
    assert "activate testbed" in script and script.rstrip().endswith('pytest "$@"')
