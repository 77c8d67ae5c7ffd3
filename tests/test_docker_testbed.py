"""Agents on instance images need a Docker engine. Where none answers (DOCKER_HOST at a dead socket): the
clear error before any agent starts; and the shims the container runs. The real engine's tests are in
test_docker_agents.py."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cookbook.docker_engine import DockerUnavailable
from cookbook.llm.scripted_server import Reply, ScriptedLLM
from cookbook.paths import PROJECT_DIR
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


def test_the_engine_target_says_what_to_start_where_it_cannot_start_one():
    """`make docker-engine` as a user who cannot start dockerd, with no engine answering."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # readable by the unprivileged user below
        script = Path(tmp) / "docker_engine.sh"
        shutil.copy(PROJECT_DIR / "tools" / "docker_engine.sh", script)
        script.chmod(0o755)
        env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{tmp}/no-engine.sock"}
        command = ["bash", str(script)]
        if os.geteuid() == 0:  # as root it would install and start an engine: run it as nobody
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "no Docker engine answers" in done.stderr and "Docker Desktop" in done.stderr
