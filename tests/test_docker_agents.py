"""Agents on instance images for real: the Docker engine, the real Cline binary against the scripted server,
swebench's run_evaluation scoring the patches, and the notebook with HARNESS="docker"."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import papermill
import pytest
from conftest import leftover_containers

from cookbook.images import with_spec
from cookbook.images.build import build_image
from cookbook.loop import run_paths
from cookbook.machine import default_workers, footprint
from cookbook.paths import PROJECT_DIR, cookbook_dir
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, turn
from cookbook.seams import Endpoint
from cookbook.testbeds.docker import DockerTestbed
from cookbook.workspaces.checkout import collect_patch
from run_act import run_act

pytestmark = pytest.mark.slow

# what the agent runs through Cline's shell tool: where it ran, with which python
PROBE = "python -c \"import os, sys; print('PROBE', os.getcwd(), sys.executable)\""


def test_run_act_in_docker_works_in_the_images_testbed_and_scores_with_swebench(docker_engine, bundled, tmp_path):
    instances = bundled.to_dict("records")
    fixer, quitter = instances[0], instances[5]

    def script(request):
        inst = task_of(request, instances)
        if inst is None or inst["instance_id"] == quitter["instance_id"]:
            return Reply(content="I could not find the bug, so I changed nothing.")
        if turn(request) == 0:
            return Reply(tool_calls=[ToolCall("run_commands", {"commands": [PROBE]})])
        if turn(request) == 1:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
        return Reply(content="I fixed the bug.")

    with ScriptedLLM(script, models={"scripted-model"}) as llm:
        df = run_act(
            "bundled",
            [fixer["instance_id"], quitter["instance_id"]],
            "docker",
            "- run the tests",
            workers=2,
            harness="docker",
            endpoint=Endpoint(llm.base_url, "k", "scripted-model"),
            runs_dir=tmp_path / "runs",
            timeout=180,
            progress=False,
        )
        tool_results = [m for r in llm.chat_requests() for m in r["messages"] if m.get("role") == "tool"]
    rows = df.set_index("instance_id")
    assert rows.loc[fixer["instance_id"], "outcome"] == "resolved", rows.loc[fixer["instance_id"], "error"]
    assert "swebench report" in rows.loc[fixer["instance_id"], "score_reason"]
    quit_row = rows.loc[quitter["instance_id"]]
    assert (quit_row["outcome"], quit_row["error"], quit_row["score_reason"]) == ("unresolved", "", "empty patch")
    # the test command ran in the container, on the workspace bound at /testbed, with the image's python
    assert not os.path.exists("/opt/venv/bin/python")
    assert any("PROBE /testbed /opt/venv/bin/python" in json.dumps(m) for m in tool_results)
    assert leftover_containers() == []
    assert not list((cookbook_dir() / "workspaces").glob(f"{fixer['instance_id']}-*"))


@pytest.fixture(scope="module")
def touched_row(docker_engine, bundled):
    """A bundled task whose image's setup changed a tracked file (as an install step may)."""
    row = with_spec(bundled.iloc[2].to_dict())
    tag = f"{row['image'].split(':')[0]}-touched:latest"
    dockerfile = f"FROM {row['image']}\nRUN echo '# touched by the image' >> /testbed/src/inikit/__init__.py\n"
    context = cookbook_dir() / "images" / "touched-context"
    build_image(tag, dockerfile, context, {}, context / "build.log")
    yield {**row, "image": tag}
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def test_the_patch_is_taken_against_the_testbeds_own_state(touched_row):
    testbed = DockerTestbed()
    testbed.check([touched_row])
    workspace = testbed.prepare(touched_row)
    run_dir, container = workspace.handle
    try:
        assert "# touched by the image" in (workspace.path / "src/inikit/__init__.py").read_text()
        assert collect_patch(workspace.path, workspace.base) == ""  # the image's change is not the agent's
        (workspace.path / "src/inikit/config.py").write_text("# the agent's edit\n")
        python = ["python", "-c", "print(open('src/inikit/config.py').read()); open('new.txt', 'w')"]
        command, env = workspace.sandbox.command(python, workspace.env, workspace.path)
        shell = subprocess.run(command, env=env, capture_output=True, text=True)
        assert shell.stdout.startswith("# the agent's edit"), shell.stderr  # the container sees the host's edit
        patch = collect_patch(workspace.path, workspace.base)
        assert "src/inikit/config.py" in patch and "new.txt" in patch and "__init__.py" not in patch
        assert container in leftover_containers()
    finally:
        testbed.release(workspace)
    assert not run_dir.exists() and leftover_containers() == []


def test_a_workspace_has_no_future(docker_engine, bundled):
    """An image whose /testbed holds later commits (the fix among them), branches, tags and a reflog, as
    images built before SWE-bench cleaned their histories do: the workspace is one commit of the base state."""
    row = with_spec(bundled.iloc[2].to_dict())
    fix = f"git apply - <<'PATCH'\n{row['patch']}PATCH\n"
    later = "git -c user.name=x -c user.email=x@x commit -qam 'the fix'"
    script = f"cd /testbed && git branch -f old-base && {fix}{later} && git tag v-next && git checkout -q old-base"
    tag = f"{row['image'].split(':')[0]}-with-future:latest"
    context = cookbook_dir() / "images" / "future-context"
    context.mkdir(parents=True, exist_ok=True)
    (context / "script.sh").write_text(script)
    dockerfile = f"FROM {row['image']}\nCOPY script.sh /\nRUN bash /script.sh\n"
    build_image(tag, dockerfile, context, {}, context / "build.log")
    testbed = DockerTestbed()
    workspace = testbed.prepare({**row, "image": tag})
    history = "git log --all --format=%H; git tag; git branch -a; git reflog | wc -l; git cat-file "
    history += "--batch-all-objects --batch-check='%(objecttype)' | grep -c commit; git apply --check - && echo base"
    try:
        command, env = workspace.sandbox.command(["bash", "-c", history], workspace.env, workspace.path)
        done = subprocess.run(command, env=env, input=row["patch"], capture_output=True, text=True)
    finally:
        testbed.release(workspace)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    # one commit, no tag, one branch, one reflog entry, no other commit object; the fix applies: the base state
    assert done.stdout.split() == [workspace.base, "*", "main", "1", "1", "base"], done.stderr


KILLED = """
from cookbook.data import load_instances
from cookbook.testbeds.docker import DockerTestbed
workspace = DockerTestbed().prepare(load_instances("bundled").iloc[2].to_dict())
print(workspace.handle[1], flush=True)
import time; time.sleep(600)
"""


def test_the_container_of_a_killed_run_is_swept_at_the_next_start(docker_engine):
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED], cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    container = proc.stdout.readline().strip()
    assert container in leftover_containers()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    assert container in leftover_containers()  # nothing removed it: the run was killed
    DockerTestbed().check([])
    assert container not in leftover_containers()


KILLED_MID_RUN = """
import sys
from cookbook.seams import Endpoint
from run_act import run_act
run_act("bundled", [sys.argv[1]], "killed", "", workers=1, harness="docker", progress=False, timeout=300,
        endpoint=Endpoint(sys.argv[2], "k", "scripted-model"), runs_dir=sys.argv[3])
"""


def test_an_agent_in_its_container_does_not_outlive_a_killed_run(docker_engine, bundled, tmp_path):
    """The run's process is SIGKILLed while its agent waits for the model inside the container: the guard
    removes the container (the agent with it) at once, not the next run's sweep."""
    inst = bundled.iloc[3].to_dict()
    with ScriptedLLM(lambda request: Reply(hang=True), models={"scripted-model"}) as llm:
        command = [sys.executable, "-c", KILLED_MID_RUN, inst["instance_id"], llm.base_url, str(tmp_path)]
        proc = subprocess.Popen(command, cwd=PROJECT_DIR, start_new_session=True)
        deadline = time.monotonic() + 180
        while not llm.requests and time.monotonic() < deadline:  # the agent is inside, waiting for its model
            time.sleep(0.2)
        running = leftover_containers()
        assert llm.requests and running, "the agent never reached its model"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while set(running) & set(leftover_containers()) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert not set(running) & set(leftover_containers())


def test_the_notebook_with_the_docker_harness(docker_engine, offline, run_name, tmp_path):
    parameters = dict(RUN_NAME=run_name, TRAIN_SIZE=2, TEST_SIZE=2, LOOPS=1, HARNESS="docker", PHOENIX=False)
    parameters["AGENT_RUNS_DIR"] = str(tmp_path / "agent_runs")  # WORKERS None: what the machine holds of docker runs
    papermill.execute_notebook(
        str(PROJECT_DIR / "optimize_cline_act.ipynb"),
        str(tmp_path / "executed.ipynb"),
        cwd=str(PROJECT_DIR),
        progress_bar=False,
        parameters=parameters,
    )
    run_dir, rulesets_dir = run_paths(run_name)
    assert (rulesets_dir / "ruleset_0.txt").exists()
    for split in ("train", "test"):
        results = pd.read_csv(run_dir / f"{split}_results_0.csv")
        assert len(results) == 2 and set(results["outcome"]) <= {"resolved", "unresolved"}, results["error"]
    assert json.loads((run_dir / "config.json").read_text())["harness"] == "docker"
    assert leftover_containers() == []
    # a docker run is counted with its containers and scoring, not as a local agent alone
    held = footprint("docker")
    line = f"preflight: {default_workers('docker')} agent runs at once (a docker run holds ~{held.gb:.1f} GB"
    assert line in (tmp_path / "executed.ipynb").read_text()
