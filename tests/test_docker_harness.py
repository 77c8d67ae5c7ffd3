"""The docker harness for real: this machine's Docker engine, instance images the project builds, and
swebench's run_evaluation in real containers."""

import json
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import leftover_containers

from cookbook.data.bundled import build_mirror
from cookbook.docker_engine import OWNER_LABEL, container_labels, sweep_leftovers
from cookbook.harnesses import choose_harness, default_harness, get_harness
from cookbook.images import with_spec
from cookbook.images.build import image_id
from cookbook.paths import PROJECT_DIR
from cookbook.seams import HarnessError

pytestmark = pytest.mark.slow


def validate(*args: str) -> str:
    """`make validate-benchmark …`'s command; its output."""
    command = [sys.executable, "-m", "cookbook", "validate-benchmark", "--harness", "docker", *args]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_validate_benchmark_on_the_bundled_benchmark_in_docker(docker_engine, bundled):
    n = len(bundled)
    assert n >= 12
    out = validate("--dataset", "bundled")
    assert f"{n}/{n} gold resolved, 0/{n} empty resolved" in out and "docker harness" in out
    assert leftover_containers() == []


def test_validate_benchmark_on_a_users_repository_with_mirrors_and_no_images(docker_engine, tmp_path):
    from user_repo import make_user_dataset

    dataset, mirrors = make_user_dataset(tmp_path)
    assert not any("image" in json.loads(line) for line in dataset.read_text().splitlines())
    out = validate("--dataset", str(dataset), "--repos-dir", str(mirrors))
    assert "2/2 gold resolved, 0/2 empty resolved" in out
    assert leftover_containers() == []


@pytest.fixture(scope="module")
def row(docker_engine, bundled):
    """A bundled task with its swebench fields, as a current SWE-bench dataset carries them."""
    return with_spec(bundled.iloc[1].to_dict())


def test_verdicts_of_run_evaluation(row):
    """A wrong patch fails with its failing tests, a patch that does not apply fails with that reason, and
    a test run over its deadline is the patch's failure too."""
    iid, target = row["instance_id"], "src/inikit/__init__.py"
    wrong = f"diff --git a/{target} b/{target}\n--- a/{target}\n+++ b/{target}\n@@ -1,0 +1,1 @@\n+# not a fix\n"
    bogus = "diff --git a/nowhere.py b/nowhere.py\n--- a/nowhere.py\n+++ b/nowhere.py\n@@ -1,2 +1,2 @@\n-a\n-b\n+c\n"
    slow = {**row, "eval_script": row["eval_script"].replace("python -m pytest", "sleep 30; python -m pytest", 1)}
    harness = get_harness("docker", timeout=5)
    wrong_result = harness.evaluate([row], {iid: wrong})[0]
    bogus_result = harness.evaluate([row], {iid: bogus})[0]
    slow_result = harness.evaluate([slow], {iid: row["patch"]})[0]
    assert wrong_result.outcome == "unresolved" and set(wrong_result.failed_tests) == set(row["FAIL_TO_PASS"])
    assert (bogus_result.outcome, bogus_result.reason) == ("unresolved", "patch does not apply")
    assert (slow_result.outcome, slow_result.reason) == ("unresolved", "tests timed out after 5 s")
    assert leftover_containers() == []


def test_infrastructure_failures_are_errors_never_the_patchs(row):
    iid = row["instance_id"]
    # the environment breaks (as swebench recognizes it): infra_failure in the report
    broken = {**row, "eval_script": "#!/bin/bash\necho 'Cannot connect to the Docker daemon at unix:///x.sock'\n"}
    no_image = {**row, "image": "cookbook/no-such-image:missing"}  # swebench writes no report at all
    harness = get_harness("docker")
    infra = harness.evaluate([broken], {iid: row["patch"]})[0]
    missing = harness.evaluate([no_image], {iid: row["patch"]})[0]
    assert infra.outcome == "error" and "infrastructure failure (container_unavailable)" in infra.reason
    assert missing.outcome == "error" and "no report from swebench" in missing.reason
    assert "run_instance.log" in missing.reason


def test_an_empty_report_is_an_error_naming_the_log(row, tmp_path):
    harness = get_harness("docker")
    log_dir = tmp_path / "logs" / "run_evaluation" / "run-x" / "cookbook" / row["instance_id"]
    log_dir.mkdir(parents=True)
    (log_dir / "report.json").write_text("")  # what swebench leaves for some failed runs
    done = subprocess.CompletedProcess([], 1, "", "")
    result = harness.read_back(tmp_path, "run-x", row, done)
    assert result.outcome == "error" and str(log_dir / "report.json") in result.reason


def test_images_are_reused_until_their_inputs_change(row, bundled):
    inst = bundled.iloc[1].to_dict()
    again = with_spec(inst)
    assert again["image"] == row["image"] and image_id(again["image"]) == image_id(row["image"])
    assert again["eval_script"] == row["eval_script"] and again["log_parser"] == "parse_log_pytest"
    changed = with_spec({**inst, "install": "python -m pip install -q -e ."})  # another install: another image
    assert changed["image"] != row["image"]


def test_the_harness_follows_the_data(row, bundled):
    plain = bundled.iloc[:2].to_dict("records")
    assert default_harness(plain) == "local" and default_harness([row]) == "docker"
    real = {**plain[0], "repo": "pallets/flask"}  # a real repository: its own environment, never this machine's
    assert default_harness([real]) == "docker" and default_harness([*plain, real]) == "docker"
    assert choose_harness(None, [row]) == "docker" and choose_harness("local", plain) == "local"
    with pytest.raises(HarnessError, match="harness='docker'"):
        choose_harness("local", [row])
    with pytest.raises(HarnessError, match="harness='docker'"):
        get_harness("local").evaluate([row], {})


def test_containers_of_killed_runs_are_swept_and_live_ones_kept(row):
    dead = subprocess.Popen(["true"])
    dead.wait()
    mine = container_labels("sweep-test")
    host = mine[OWNER_LABEL].split(":")[0]
    owners = {"cookbook-sweep-dead": f"{host}:{dead.pid}", "cookbook-sweep-live": mine[OWNER_LABEL]}
    # swebench's own containers carry no labels: their names end with a run id that names its owner
    owners[f"sweb.eval.x.cookbook-{host}-{dead.pid}-20240101-abcdef"] = ""
    try:
        for name, owner in owners.items():
            labels = {**mine, OWNER_LABEL: owner} if owner else {}
            args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
            subprocess.run(["docker", "create", "--name", name, *args, row["image"], "true"], check=True)
        removed = sweep_leftovers()
        assert set(removed) == set(owners) - {"cookbook-sweep-live"}
        assert leftover_containers() == ["cookbook-sweep-live"]
    finally:
        subprocess.run(["docker", "rm", "-f", *owners], capture_output=True)


class DockerRecorder:
    """A pass-through to the engine's socket that notes the path of every API request sent through it (the
    engine answers everything): point DOCKER_HOST at `url`."""

    REQUEST = re.compile(rb"(?:GET|HEAD|POST|PUT|DELETE) (/[^ ]*) HTTP/1\.[01]\r\n")

    def __init__(self, folder: Path, engine: str = "/var/run/docker.sock"):
        self.path, self.engine, self.paths = folder / "docker.sock", engine, []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(self.path))
        self.server.listen(64)
        self.url = f"unix://{self.path}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(self.engine)
            threading.Thread(target=self._pipe, args=(client, engine, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(engine, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, requests: bool) -> None:
        try:
            while data := source.recv(65536):
                if requests:
                    self.paths += [m.decode() for m in self.REQUEST.findall(data)]
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def test_the_engine_is_checked_once_per_harness_not_before_every_instance(row, tmp_path, monkeypatch):
    """run_act scores each agent's patch in its own call: the engine is pinged (and killed runs' containers
    swept) when the harness is checked, at the start of a run, never again before each instance."""
    recorder = DockerRecorder(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", recorder.url)  # this process, swebench's and the docker CLI
    try:
        harness = get_harness("docker")
        harness.check([row])
        checked = list(recorder.paths)
        results = [harness.evaluate([row], {row["instance_id"]: row["patch"]})[0] for _ in range(2)]
        scoring = recorder.paths[len(checked) :]
    finally:
        recorder.close()
    assert [r.outcome for r in results] == ["resolved", "resolved"]
    # the check's own requests: the SDK's ping and the sweep's list of labelled containers (its list of every
    # container, for swebench's, is one swebench's run_evaluation makes too)
    ours = {p for p in checked if p.endswith("/_ping") or "cookbook" in unquote(p) and "/containers/json" in p}
    assert any(p.endswith("/_ping") for p in ours) and any("cookbook" in unquote(p) for p in ours)
    assert any("/containers/create" in p for p in scoring)  # swebench's containers went through the recorder
    assert not ours & set(scoring)


def test_a_bundled_mirror_is_what_the_images_are_built_from(bundled):
    """The instance image's /testbed is the base commit, self-contained, with no later history."""
    inst = bundled.iloc[1].to_dict()
    image = with_spec(inst)["image"]
    out = subprocess.run(
        ["docker", "run", "--rm", image, "bash", "-c", "git rev-parse HEAD; git rev-list --all | wc -l; git status -s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    commits = build_mirror(PROJECT_DIR / "bundled" / "inikit")
    assert out[0] == inst["base_commit"] == commits[inst["instance_id"]]
    assert out[1] == "1" and out[2] == ""
