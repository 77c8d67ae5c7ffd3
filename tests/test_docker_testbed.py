"""Agents on instance images need a Docker engine. Where none answers (DOCKER_HOST at a dead socket): the
clear error before any agent starts; and what of this machine the agent's container shows it. The real
engine's tests are in test_docker_agents.py and test_agent_sandbox.py."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cookbook.docker_engine import DockerUnavailable
from cookbook.paths import PROJECT_DIR
from cookbook.scripted.server import Reply, ScriptedLLM
from cookbook.seams import Endpoint
from cookbook.testbeds.docker import Container
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


def test_the_container_shows_the_agent_only_its_workspace_home_and_installation(tmp_path, monkeypatch):
    """Paths as the agent's processes see them, and its command: run inside, never with a key."""
    (tmp_path / "testbed" / "src").mkdir(parents=True)
    (tmp_path / "agent" / "bin").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "agent" / "bin")
    mounts = {
        tmp_path / "testbed": "/testbed",
        tmp_path / "home": "/cookbook/home",
        tmp_path / "agent": "/cookbook/agent/0",
    }
    box = Container("cookbook-abc123", mounts, Path("/proc/1/ns/net"))
    assert box.path(tmp_path / "testbed" / "src") == "/testbed/src"
    assert box.path(tmp_path / "link" / "cline") == "/cookbook/agent/0/bin/cline"  # installations are links
    assert box.path(tmp_path / "home" / "cline-data") == "/cookbook/home/cline-data"
    for outside in (tmp_path, tmp_path / "testbed-other", Path("/var/run/docker.sock")):
        with pytest.raises(ValueError):
            box.path(outside)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-in-a-command-0123456789")
    command, env = box.command(["cline", "--json"], {"CLINE_DIR": "/cookbook/home/x"}, tmp_path / "testbed" / "src")
    assert " ".join(command[:6]) == "docker exec --interactive --workdir /testbed/src --env=CLINE_DIR=/cookbook/home/x"
    assert command[6] == "cookbook-abc123" and command[-2:] == ["cline", "--json"]
    assert "OPENAI_API_KEY" not in env and box.stop_command == ["docker", "rm", "-f", "cookbook-abc123"]


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
