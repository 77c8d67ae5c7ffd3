"""Environments built from a row and its repository alone: real SWE-bench Lite rows (flask, from the mirror in
../shared), a repository whose environment cannot be built beside one that can, tests with the network off,
and a test run that reports nothing without a patch is the environment's failure, not the patch's."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import leftover_containers

from cookbook.grading import NO_CHANGE_PATCH
from cookbook.harnesses import get_harness
from cookbook.images.environment import (
    choose_python,
    ci_pythons,
    command_for_tests,
    log_parser,
    plan_environment,
    tox_deps,
    tox_pythons,
)
from cookbook.paths import PROJECT_DIR
from cookbook.workspaces.checkout import prepare_workspace

LITE = Path(__file__).resolve().parents[2] / "shared" / "swebench-lite"
DEBIAN = ["3.9", "3.11", "3.13"]


def lite_rows(repo: str) -> dict[str, dict]:
    rows = [json.loads(line) for line in (LITE / "lite_test.jsonl").read_text().splitlines()]
    return {row["instance_id"]: row for row in rows if row["repo"] == repo}


needs_lite = pytest.mark.skipif(not (LITE / "lite_test.jsonl").exists(), reason="../shared/swebench-lite is not here")


# -- the plan, read from the repository -----------------------------------------------------------------
@needs_lite
@pytest.mark.parametrize(("instance_id", "python"), [("pallets__flask-4992", "3.11"), ("pallets__flask-4045", "3.9")])
def test_the_interpreter_is_read_from_the_repository_at_its_environment_commit(instance_id, python, tmp_path):
    """flask-4992's target test imports tomllib (3.11 and later): its tox.ini lists py311, and 3.11 was out by
    the environment commit's date; flask 2.0 (2021) lists py36–py39."""
    row = lite_rows("pallets/flask")[instance_id]
    commit = row["environment_setup_commit"]
    checkout = prepare_workspace({**row, "base_commit": commit}, root=tmp_path, repos_dir=LITE / "mirrors")
    when = datetime.fromisoformat(
        subprocess.check_output(["git", "log", "-1", "--format=%cI"], cwd=checkout, text=True).strip()
    )
    plan = plan_environment(row, checkout, DEBIAN, when)
    assert plan.python == python and "declares" in plan.python_why
    assert plan.date == when.date().isoformat()
    assert "requirements/tests.txt" in plan.requirement_sources and any(
        r.startswith("pytest") for r in plan.requirements
    )


def test_the_choice_of_python():
    day = datetime(2023, 4, 1).date()
    assert choose_python(DEBIAN, {"3.8", "3.9", "3.10", "3.11", "3.12"}, ">=3.8", day)[0] == "3.11"
    assert choose_python(DEBIAN, set(), ">=3.9", day)[0] == "3.11"  # nothing declared: the newest out by then
    assert choose_python(DEBIAN, {"3.6", "3.7", "3.8"}, ">=3.6", datetime(2019, 6, 1).date())[0] == "3.9"
    assert choose_python(DEBIAN, {"3.8", "3.9"}, "", datetime(2020, 7, 1).date())[0] == "3.9"  # declared, not yet out
    assert choose_python(DEBIAN, {"3.9"}, ">=3.9,<3.11", day)[0] == "3.9"
    assert choose_python(["3.7", *DEBIAN], {"3.6", "3.7"}, "", datetime(2019, 6, 1).date())[0] == "3.7"  # a registry's


def test_what_the_repository_declares():
    assert tox_pythons("[tox]\nenvlist =\n    py3{12,11,10}\n    py38-min\n    style\n") == {
        "3.12",
        "3.11",
        "3.10",
        "3.8",
    }
    assert tox_pythons("[tox]\nenvlist = py{36,37}-django, pypy3, flake8\n") == {"3.6", "3.7"}
    workflow = "jobs:\n  t:\n    strategy:\n      matrix:\n        python-version: ['3.9', '3.10']\n"
    assert ci_pythons(workflow) == {"3.9", "3.10"}
    assert ci_pythons("python:\n  - '3.6'\n  - \"3.7\"\nscript: make\n") == {"3.6", "3.7"}
    tox = "[testenv]\ndeps =\n    -r requirements/tests.txt\n    py3: mock\n    postgres: psycopg2\n    {[base]deps}\n"
    assert tox_deps(tox) == ["-r requirements/tests.txt", "mock"]


def test_test_commands_and_parsers_per_repository():
    django = {"repo": "django/django", "test_patch": _patch("tests/admin_views/tests.py") + _patch("tests/x.json")}
    assert command_for_tests(django).endswith(
        "runtests.py --verbosity 2 --settings=test_sqlite --parallel 1 admin_views.tests"
    )
    sympy = {"repo": "sympy/sympy", "test_patch": _patch("sympy/core/tests/test_basic.py")}
    assert "bin/test -C --verbose sympy/core/tests/test_basic.py" in command_for_tests(sympy)
    other = {"repo": "acme/calc", "test_patch": _patch("tests/test_calc.py")}
    assert command_for_tests(other) == "python -m pytest -rA --color=no -p no:cacheprovider tests/test_calc.py"
    assert command_for_tests({**other, "test_cmd": "pytest -x"}) == "pytest -x tests/test_calc.py"
    assert (log_parser("django/django"), log_parser("sympy/sympy")) == ("parse_log_django", "parse_log_sympy")
    assert log_parser("acme/calc") == "parse_log_pytest"


def test_setuptools_scm_is_told_the_newer_of_the_rows_version_and_the_last_release_tag(tmp_path):
    """A checkout has no tags: xarray's rows say 0.12 where its last release was 0.16, and pandas then refuses
    it; the release tag before the environment commit (in the repository's copy) wins when it is newer."""
    from cookbook.images.instance import released_version

    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    _git(work, "commit", "-q", "--allow-empty", "-m", "first")
    untagged = _git(work, "rev-parse", "HEAD").strip()
    _git(work, "tag", "v0.16.1")
    _git(work, "commit", "-q", "--allow-empty", "-m", "later")
    later = _git(work, "rev-parse", "HEAD").strip()
    subprocess.run(
        ["git", "clone", "-q", "--mirror", str(work), str(tmp_path / "mirrors" / "acme__scm.git")], check=True
    )
    row = {"repo": "acme/scm", "version": "0.12"}
    assert released_version(row, later, tmp_path / "mirrors") == "0.16.1"
    assert released_version({**row, "version": "0.17"}, later, tmp_path / "mirrors") == "0.17"
    assert released_version(row, untagged, tmp_path / "mirrors") == "0.16.1"  # tagged itself
    assert released_version(row, later, tmp_path / "nowhere") == "0.12"  # no copy to read


def test_a_suite_that_needs_the_network_is_not_run():
    """requests' suites of 2014 call httpbin.org: an environment error of that row, before any container."""
    row = {"instance_id": "psf__requests-2317", "repo": "psf/requests", "version": "2.4", "FAIL_TO_PASS": ["t"]}
    result = get_harness("docker").evaluate([row], {row["instance_id"]: "diff --git a/x b/x\n"})[0]
    assert (result.outcome, result.error_kind) == ("error", "environment")
    assert "network off" in result.reason and "httpbin.org" in result.reason


def _patch(path: str) -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"


# -- real environments in Docker ------------------------------------------------------------------------
def validate(*args: str, ok: bool = True) -> str:
    command = [sys.executable, "-m", "cookbook", "validate-benchmark", "--harness", "docker", *args]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=1800)
    assert (done.returncode == 0) == ok, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@needs_lite
@pytest.mark.slow
def test_real_lite_rows_resolve_in_environments_built_from_their_repository(docker_engine):
    """Two of SWE-bench Lite's flask rows, in the dataset's classic columns (no image): their environment is
    built from the mirror (Python 3.11, chosen from the repository), gold resolves, the empty patch does not."""
    out = validate(
        *("--dataset", str(LITE / "lite_test.jsonl"), "--repos-dir", str(LITE / "mirrors")),
        *("--instances", "pallets__flask-4992,pallets__flask-5063"),
    )
    assert "2/2 gold resolved, 0/2 empty resolved, 0 environment errors" in out
    assert leftover_containers() == []
    from cookbook.images import with_spec

    row = lite_rows("pallets/flask")["pallets__flask-4992"]
    image = with_spec({**row, "FAIL_TO_PASS": json.loads(row["FAIL_TO_PASS"])}, LITE / "mirrors")["image"]
    version = subprocess.check_output(["docker", "run", "--rm", image, "python", "--version"], text=True)
    assert version.startswith("Python 3.11")


def _git(work: Path, *args: str) -> str:
    identity = ["-c", "user.name=u", "-c", "user.email=u@example.invalid", "-c", "commit.gpgSign=false"]
    return subprocess.run(["git", *identity, *args], cwd=work, check=True, capture_output=True, text=True).stdout


def make_repository(root: Path, name: str, files: dict[str, str], fix: dict[str, str], tests: dict[str, str]) -> dict:
    """A repository `acme/<name>` (files, committed) and one task: the fix and its tests; its mirror in
    root/mirrors. The row's FAIL_TO_PASS is every test of `tests` named `test_fixed`."""
    work = root / name
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    for path, text in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "base")
    base = _git(work, "rev-parse", "HEAD").strip()
    for path, text in {**fix, **tests}.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    _git(work, "add", "-A")
    gold = _git(work, "diff", "--cached", "--", *fix)
    test_patch = _git(work, "diff", "--cached", "--", *tests)
    subprocess.run(
        ["git", "clone", "-q", "--mirror", str(work), str(root / "mirrors" / f"acme__{name}.git")], check=True
    )
    return {
        "instance_id": f"acme__{name}-1",
        "repo": f"acme/{name}",
        "base_commit": base,
        "problem_statement": "fix it",
        "patch": gold,
        "test_patch": test_patch,
        "FAIL_TO_PASS": [f"{path}::test_fixed" for path in tests],
        "PASS_TO_PASS": [],
        "version": "1.0",
        "created_at": "2024-05-01T00:00:00Z",
    }


def test_a_copy_that_lacks_objects_of_the_history_is_that_rows_repository_error(tmp_path):
    """A mirror that holds the base commit's files but not an older blob its history reaches (astropy's copy
    here): the image's checkout cannot take its own copy of the objects, and that is the row's repository
    error (with_specs keeps it to that row), not an exception that ends the batch."""
    from cookbook.data.repositories import WorkspaceError
    from cookbook.images.instance import standalone_checkout

    work, mirror = tmp_path / "work", tmp_path / "mirrors" / "acme__holes.git"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    for text in ("old\n", "new\n"):
        (work / "a.txt").write_text(text)
        _git(work, "add", "-A")
        _git(work, "commit", "-qm", text.strip())
    old_blob = _git(work, "rev-parse", "HEAD~1:a.txt").strip()
    subprocess.run(["git", "init", "-q", "--bare", str(mirror)], check=True)
    _git(work, "push", "-q", str(mirror), "main")  # few objects: they arrive loose
    (mirror / "objects" / old_blob[:2] / old_blob[2:]).unlink()
    row = {"instance_id": "acme__holes-1", "repo": "acme/holes", "base_commit": _git(work, "rev-parse", "HEAD").strip()}
    with pytest.raises(WorkspaceError, match="the copy of acme/holes lacks objects"):
        standalone_checkout(row, tmp_path / "testbed", tmp_path / "mirrors")
    assert not (tmp_path / "testbed").exists() and [p.name for p in tmp_path.iterdir()] == ["work", "mirrors"]


GOOD_FILES = {
    "pyproject.toml": '[project]\nname = "good"\nversion = "1.0"\nrequires-python = ">=3.9"\n',
    "good.py": "X = 1\n",
}
TEST_GOOD = {"tests/test_good.py": "from good import X\n\n\ndef test_fixed():\n    assert X == 2\n"}
# its test asserts that nothing outside the container answers: the package index, which this machine reaches
TEST_OFFLINE = {
    "tests/test_offline.py": (
        "import socket\n\nimport pytest\n\n\ndef test_fixed():\n    from good import X\n    assert X == 2\n"
        "    with pytest.raises(OSError):\n        socket.create_connection(('pypi.org', 443), timeout=5)\n"
    )
}


@pytest.mark.slow
def test_one_rows_environment_failing_leaves_the_others_scored(docker_engine, tmp_path):
    """A repository whose install fails beside one that works: the good row is scored (its tests run with
    the network off), the bad one is an environment error naming its log, a row whose base commit the
    mirror lacks is that row's repository error, the command exits non-zero after printing them, and the
    failed build leaves no container and no image."""
    good = make_repository(tmp_path, "good", GOOD_FILES, {"good.py": "X = 2\n"}, {**TEST_GOOD, **TEST_OFFLINE})
    broken_setup = "raise SystemExit('this package cannot be installed')\n"
    bad = make_repository(tmp_path, "broken", {"setup.py": broken_setup, "b.py": ""}, {"b.py": "Y = 1\n"}, TEST_GOOD)
    dataset = tmp_path / "tasks.jsonl"
    lost = {
        **good,
        "instance_id": "acme__good-2",
        "base_commit": "0" * 40,
        "environment_setup_commit": good["base_commit"],
    }
    dataset.write_text("".join(json.dumps(row) + "\n" for row in (good, bad, lost)))
    images_before, dangling_before = _images(), _dangling()
    kept = tmp_path / "valid.jsonl"
    out = validate("--dataset", str(dataset), "--repos-dir", str(tmp_path / "mirrors"), "--out", str(kept), ok=False)
    assert "1/3 gold resolved, 0/3 empty resolved, 1 environment error" in out
    assert (
        "  REPOSITORY acme__good-2: gold patch: error (acme__good-2: commit 0000000000000000000000000000000000000000"
        in out
    )
    assert [json.loads(line)["instance_id"] for line in kept.read_text().splitlines()] == ["acme__good-1"]
    line = next(line for line in out.splitlines() if "acme__broken-1" in line)
    assert line.startswith("  ENVIRONMENT acme__broken-1: gold patch: error (the environment cannot be built:")
    log = Path(line.split("(log: ")[1].split(")")[0])
    assert log.is_file() and "this package cannot be installed" in log.read_text()
    assert "acme__good-1" not in out  # resolved: its tests ran, and pypi.org did not answer them
    new_images = _images() - images_before
    assert any("acme__good" in name for name in new_images) and not any("acme__broken" in n for n in _images())
    assert _dangling() <= dangling_before and leftover_containers() == []


def _images() -> set[str]:
    listed = subprocess.check_output(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], text=True)
    return set(listed.split())


def _dangling() -> int:
    return len(subprocess.check_output(["docker", "images", "-q", "-f", "dangling=true"], text=True).split())


@pytest.mark.slow
def test_no_results_without_a_patch_is_the_environment_with_one_the_patchs(docker_engine, tmp_path):
    """A row whose test command reports nothing is an environment error, with and without a patch; on a row
    whose tests do report, a patch that breaks the module the tests import is unresolved, the patch's."""
    good = make_repository(tmp_path, "good", GOOD_FILES, {"good.py": "X = 2\n"}, TEST_GOOD)
    silent = {**good, "instance_id": "acme__good-2", "test_cmd": "echo 'no tests here' #"}
    broken = "diff --git a/good.py b/good.py\n--- a/good.py\n+++ b/good.py\n@@ -1 +1 @@\n-X = 1\n+X = (\n"
    harness = get_harness("docker", repos_dir=tmp_path / "mirrors")
    silent_gold, silent_empty = (
        harness.evaluate([silent], {silent["instance_id"]: patch})[0] for patch in (good["patch"], NO_CHANGE_PATCH)
    )
    breaking = harness.evaluate([good], {good["instance_id"]: broken})[0]
    for result in (silent_gold, silent_empty):
        assert (result.outcome, result.error_kind) == ("error", "environment")
        assert "even without a patch: the environment, not the patch" in result.reason
    assert breaking.outcome == "unresolved" and "with this patch (without it they do)" in breaking.reason
    assert leftover_containers() == []
