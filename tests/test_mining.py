"""Mining tasks from a repository's history: which changes are candidates (merges as one change, their first
parent as the base), their patches and version, problem statements, and — in Docker — the tasks kept and
the candidates dropped with their reason, on a repository made here and on flask's real history, whose
mined task matches SWE-bench Lite's row."""

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from conftest import leftover_containers, run_notebook
from mined_repo import F2P, WINDOW, commit, git, make_widgets

from cookbook.data import DatasetError
from cookbook.llm.endpoints import provider_variables
from cookbook.loop import run_paths
from cookbook.mining import dataset_file, is_mined
from cookbook.mining.history import History, is_doc_file, is_test_file, statement_material
from cookbook.mining.statements import problem_statement, statement_client
from cookbook.paths import PROJECT_DIR
from cookbook.scripted.server import Reply, ScriptedLLM

LITE = Path(__file__).resolve().parents[2] / "shared" / "swebench-lite"
FLASK = LITE / "mirrors" / "pallets__flask.git"
needs_lite = pytest.mark.skipif(not FLASK.is_dir(), reason="../shared/swebench-lite is not here")


def lite_row(instance_id: str) -> dict:
    rows = (json.loads(line) for line in (LITE / "lite_test.jsonl").read_text().splitlines())
    return next(row for row in rows if row["instance_id"] == instance_id)


def hunks(patch: str) -> list[str]:
    """A patch's lines without `index` lines and hunk headers' section names (GitHub's diffs and git's differ)."""
    return [re.sub(r"^(@@ [^@]+ @@).*", r"\1", line) for line in patch.splitlines() if not line.startswith("index ")]


# -- the history -------------------------------------------------------------------------------------------
def test_a_pull_requests_merge_is_one_change_based_on_its_first_parent(tmp_path):
    work = make_widgets(tmp_path)
    history = History(work)
    changes = {c.pull_request or c.commit[:7]: c for c in history.changes(date(2024, 1, 1), date(2024, 3, 31))}
    merge = changes["7"]
    assert merge.base == git(work, "rev-parse", "HEAD~4^1")  # the mainline before the merge
    assert merge.commit == git(work, "rev-parse", "HEAD~4") and merge.created_at == "2024-02-10T10:00:00Z"
    assert len(changes) == 7  # the branch's own two commits are no changes of their own
    assert (merge.code_files, merge.test_files) == (["widgets.py"], ["tests/test_w.py"])
    assert statement_material(merge) == (
        "count() treats 'A' and 'a' as different words\n\ncompare words in lower case\n\ntest count()"
    )
    squashed = changes["9"]
    assert squashed.code_files == ["widgets.py"] and "CHANGES.rst" in squashed.files  # a changelog is not code
    assert statement_material(squashed) == "shout() cannot strip its text\n\nshout('  hi ') keeps the spaces."
    assert "CHANGES.rst" not in history.diff(squashed, squashed.code_files)
    assert [history.version(c.base) for c in changes.values()] == ["1.0"] * 5 + ["0.9", "0.9"]
    assert history.repo_name() == "acme/widgets"
    assert [c.commit[:7] for c in history.changes(date(2024, 2, 10), date(2024, 2, 10))] == [merge.commit[:7]]


def test_a_maintenance_branch_merged_back_is_read_as_its_own_changes(tmp_path):
    """`Merge branch 'stable'` brings pull requests merged into stable: each is a change based on stable's line.
    A pull request that merged main into itself to catch up is still one change."""
    work = tmp_path / "repo"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    commit(work, {"a.py": "A = 1\n", "tests/test_a.py": "A\n"}, "start", "2024-01-01T00:00:00Z")
    git(work, "branch", "stable")
    git(work, "checkout", "-q", "-b", "fix", "stable")
    commit(work, {"a.py": "A = 2\n", "tests/test_a.py": "A2\n"}, "fix a", "2024-01-02T00:00:00Z")
    git(work, "checkout", "-q", "stable")
    git(work, "merge", "-q", "--no-ff", "-m", "Merge pull request #1 from x/fix\n\nA is wrong", "fix")
    stable_fix = git(work, "rev-parse", "HEAD")
    git(work, "checkout", "-q", "main")
    git(work, "checkout", "-q", "-b", "feature")
    commit(work, {"b.py": "B = 1\n"}, "add b", "2024-01-03T00:00:00Z")
    git(work, "checkout", "-q", "main")
    main_only = commit(work, {"c.py": "C\n", "tests/test_c.py": "C\n"}, "add c", "2024-01-04T00:00:00Z")
    git(work, "checkout", "-q", "feature")
    git(work, "merge", "-q", "--no-ff", "-m", "Merge branch 'main' into feature", "main")
    commit(work, {"tests/test_b.py": "B\n"}, "test b", "2024-01-05T00:00:00Z")
    git(work, "checkout", "-q", "main")
    git(work, "merge", "-q", "--no-ff", "-m", "Merge pull request #2 from x/feature", "feature")
    feature = git(work, "rev-parse", "HEAD")
    git(work, "merge", "-q", "--no-ff", "-m", "Merge branch 'stable'", "stable", when="2024-01-06T00:00:00Z")
    found = History(work).changes(date(2024, 1, 1), date(2024, 12, 31))
    by_number = {c.pull_request: c for c in found if c.pull_request}
    assert set(by_number) == {"1", "2"} and len(found) == 3  # #1, #2 and "add c"; not the merge of stable
    assert (by_number["1"].commit, by_number["1"].base) == (stable_fix, git(work, "rev-parse", "stable^1"))
    assert (by_number["2"].commit, by_number["2"].base) == (feature, main_only)
    assert by_number["2"].files == ("b.py", "tests/test_b.py")  # its own work, not main's that it merged
    assert statement_material(by_number["2"]) == "add b\n\ntest b"


def test_test_files_and_documentation():
    assert all(map(is_test_file, ["tests/a.py", "src/pkg/tests/x.py", "test_a.py", "a_test.py", "conftest.py"]))
    assert not any(map(is_test_file, ["src/flask/testing.py", "pytest_plugin.py", "contest.py"]))
    assert all(map(is_doc_file, ["docs/a.py", "CHANGES.rst", "README.md", "changes/1.bugfix", ".github/ci.yml"]))
    assert not any(map(is_doc_file, ["setup.py", "requirements.txt", "src/a.py"]))


@needs_lite
def test_flasks_history_holds_lite_rows_changes_as_swebench_took_them():
    """pallets__flask-4045 is the merge of pull request #4045: SWE-bench's base commit is that merge's first
    parent, its gold patch and test patch the merge's diff of code and of tests."""
    history = History(FLASK)
    assert history.repo_name() == "pallets/flask"
    for instance_id, day in (("pallets__flask-4045", date(2021, 5, 13)), ("pallets__flask-5063", date(2023, 4, 14))):
        row = lite_row(instance_id)
        change = next(c for c in history.changes(day, day) if c.pull_request == instance_id.rsplit("-", 1)[1])
        assert change.base == row["base_commit"]
        assert history.version(change.base) == row["version"]
        assert hunks(history.diff(change, change.code_files)) == hunks(row["patch"])
        assert hunks(history.diff(change, change.test_files)) == hunks(row["test_patch"])


def test_mined_data_is_told_from_its_rows_or_its_name(tmp_path):
    mined, other = tmp_path / "mined.jsonl", tmp_path / "other.jsonl"
    mined.write_text(json.dumps({"instance_id": "a", "mined_from": "abc"}) + "\n")
    other.write_text(json.dumps({"instance_id": "a"}) + "\n")
    assert is_mined("mine:../x") and is_mined(str(mined))
    assert not is_mined(str(other)) and not is_mined("bundled") and not is_mined("SWE-bench/SWE-bench_Lite")
    assert dataset_file("bundled") == "bundled"


def test_a_window_without_candidates_is_a_clear_error(tmp_path, monkeypatch):
    """mine:PATH over a window with documentation only: nothing to examine (no engine needed), the summary
    says so, and the dataset is refused with what to change."""
    monkeypatch.setenv("COOKBOOK_DIR", str(tmp_path / "cookbook"))
    work = make_widgets(tmp_path)
    with pytest.raises(DatasetError, match="no task was kept from 2024-03-01 to 2024-03-01 .* widen the window"):
        dataset_file(f"mine:{work}?since=2024-03-01&until=2024-03-01")
    summary = json.loads(next((tmp_path / "cookbook" / "mined").rglob("*.mining.json")).read_text())
    assert (summary["changes"], summary["candidates"], summary["kept"], summary["finished"]) == (1, 0, 0, True)
    assert (tmp_path / "cookbook" / "repos" / "acme__widgets.git").resolve() == (work / ".git").resolve()


def test_mined_tasks_are_split_by_date_unless_told_otherwise(tmp_path):
    from cookbook.loop import LoopConfig

    mined = tmp_path / "tasks.jsonl"
    mined.write_text(json.dumps({"instance_id": "acme__widgets-7", "mined_from": "812ba2b"}) + "\n")
    assert LoopConfig(dataset="mine:../widgets").split_strategy == "by_date"
    assert LoopConfig(dataset=str(mined)).split_strategy == "by_date"
    assert LoopConfig(dataset="bundled").split_strategy == "random"
    assert LoopConfig(dataset="mine:../widgets", split_strategy="random").split_strategy == "random"


def test_rules_that_name_a_mined_task_are_leaks_and_naming_the_one_repository_is_not():
    from cookbook.rulesets import find_leaks

    commits = ("812ba2b3e1" + "0" * 30, "141c39d0aa" + "0" * 30)
    train = pd.DataFrame(
        [
            {"instance_id": iid, "repo": "acme/widgets", "patch": "", "FAIL_TO_PASS": tests, "mined_from": sha}
            for (iid, tests), sha in zip(F2P.items(), commits, strict=True)
        ]
    )
    ruleset = (
        "- In widgets, run the tests before finishing.\n- acme__widgets-7 was about case.\n- Pull request #9 strips.\n"
        "- Make test_count_ignores_case pass.\n- Do as 812ba2b did.\n"
    )
    leaks = find_leaks(ruleset, train)
    found = {(row.term, row.kind, row.instance_id) for row in leaks.itertuples()}
    assert found == {
        ("acme__widgets-7", "instance", "acme__widgets-7"),
        ("#9", "instance", "acme__widgets-9"),
        ("test_count_ignores_case", "test", "acme__widgets-7"),
        ("812ba2b", "instance", "acme__widgets-7"),
    }
    two_repos = pd.concat([train, train.assign(instance_id="other__x-1", repo="other/x", mined_from="")])
    assert "repository" in set(find_leaks("- In widgets, run the tests.\n", two_repos)["kind"])


# -- problem statements -------------------------------------------------------------------------------------
MATERIAL = "count() treats 'A' and 'a' as different words\n\ncompare words in lower case"
ISSUE = "count() is case-sensitive\n\n`count(['a', 'A'], 'a')` returns 1; I expected 2."


def test_the_judges_model_rewrites_the_history_into_an_issue_without_the_diff_or_the_tests(monkeypatch, tmp_path):
    """With a judge's endpoint configured, the statement is its model's rewrite of the messages; the request holds
    the messages, names the tests only to forbid them, and never holds the diff. A rewrite that names a test
    is not used; offline the statement is the messages alone."""
    replies = iter([ISSUE, "test_count_ignores_case fails: count() is case-sensitive"])
    with ScriptedLLM(lambda request: Reply(content=next(replies)), models={"gpt-5"}, api_key="k") as llm:
        monkeypatch.setenv("COOKBOOK_DIR", str(tmp_path))  # no cached reply from an earlier session
        for name, value in (("BASE_URL", llm.base_url), ("API_KEY", "k"), ("MODEL", "gpt-5")):
            monkeypatch.setenv(f"JUDGE_{name}", value)
        client = statement_client()
        f2p = ["tests/test_w.py::test_count_ignores_case"]
        assert problem_statement(MATERIAL, "acme/widgets", f2p, client) == ISSUE
        asked = llm.chat_requests()[0]
        prompt = asked["messages"][-1]["content"]
        assert MATERIAL in prompt and "diff --git" not in prompt and "lower()" not in prompt
        assert "not: test_count_ignores_case." in prompt and asked["max_completion_tokens"] == 32_000
        other = ["tests/test_w.py::test_count_ignores_case"]
        assert problem_statement(MATERIAL + "\n\nagain", "acme/widgets", other, client).startswith(MATERIAL)
    for name in provider_variables():
        monkeypatch.delenv(name, raising=False)
    assert statement_client() is None and problem_statement(MATERIAL, "acme/widgets", [], None) == MATERIAL


# -- mining in Docker --------------------------------------------------------------------------------------
def offline_env(cookbook: Path) -> dict:
    """This process's environment without any provider variable (no test reaches a model), in `cookbook`."""
    return {k: v for k, v in os.environ.items() if k not in provider_variables()} | {"COOKBOOK_DIR": str(cookbook)}


def mine_cli(*args: str, cookbook: Path, ok: bool = True) -> str:
    env = offline_env(cookbook)
    command = [sys.executable, "-m", "cookbook", "mine", *args]
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=3600)
    assert (done.returncode == 0) == ok, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def no_new_leftovers(docker_engine):
    """No container of this test's is left behind (those already left by others' killed runs are not its own:
    other checkouts share this machine's engine)."""
    before = set(leftover_containers())
    yield
    assert set(leftover_containers()) - before == set()


@pytest.fixture(scope="session")
def mined_widgets(docker_engine, tmp_path_factory):
    """acme/widgets mined once for the session, in a cookbook dir of its own: (repository, tasks file,
    summary, cookbook dir, what the command printed). Mining leaves no container behind."""
    root = tmp_path_factory.mktemp("mined")
    work, cookbook, out = make_widgets(root), root / "cookbook", root / "tasks.jsonl"
    since, until = WINDOW
    before = set(leftover_containers())
    stdout = mine_cli("--repo", str(work), "--since", since, "--until", until, "--out", str(out), cookbook=cookbook)
    assert set(leftover_containers()) - before == set()
    summary = json.loads(Path(f"{out}.mining.json").read_text())
    return work, out, summary, cookbook, stdout


@pytest.mark.slow
def test_mining_keeps_tasks_whose_tests_fail_before_and_pass_after(no_new_leftovers, mined_widgets):
    """Two pull requests are kept; a refactor whose new test passes before it too, a fix in a version whose
    environment cannot be built, and a test module that cannot be collected without the fix are dropped with
    their reason; docs and code-only commits are no candidates."""
    work, out, summary, cookbook, stdout = mined_widgets
    tasks = {row["instance_id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert {iid: row["FAIL_TO_PASS"] for iid, row in tasks.items()} == F2P
    assert (summary["changes"], summary["candidates"], summary["kept"]) == (7, 5, 2)
    not_collected = "FAIL_TO_PASS not collected without the fix"
    assert summary["dropped"] == {"no FAIL_TO_PASS": 1, "environment": 1, not_collected: 1}
    dropped = {v["reason"]: v for v in summary["verdicts"] if not v["kept"]}
    assert "cannot be built" in dropped["environment"]["detail"]
    assert "none fails" in dropped["no FAIL_TO_PASS"]["detail"]
    assert "none of FAIL_TO_PASS ran" in dropped[not_collected]["detail"]
    assert "5 candidates (code and tests), 5 examined: 2 kept, 3 dropped (1 FAIL_TO_PASS not collected" in stdout
    task = tasks["acme__widgets-7"]
    assert task["base_commit"] == git(work, "rev-parse", "HEAD~4^1") and task["version"] == "1.0"
    assert task["environment_setup_commit"] == git(work, "rev-parse", "HEAD~1")  # #11's base: the newest of 1.0
    assert task["PASS_TO_PASS"] == ["tests/test_w.py::test_shout", "tests/test_w.py::test_shout_nothing"]
    assert task["problem_statement"].startswith("count() treats 'A' and 'a' as different words")  # offline
    assert tasks["acme__widgets-9"]["created_at"] > task["created_at"] and "image" not in task
    # a second run reads every verdict back: no test runs again
    runs = cookbook / "swebench_runs"
    before = sorted(runs.iterdir())
    since, until = WINDOW
    again = mine_cli("--repo", str(work), "--since", since, "--until", until, "--out", str(out), cookbook=cookbook)
    assert sorted(runs.iterdir()) == before and "2 kept" in again


@needs_lite
@pytest.mark.slow
def test_mining_flask_finds_a_lite_instance_whose_gold_patch_resolves(no_new_leftovers, tmp_path):
    """The window of the day pallets__flask-5063 was merged: the task mined from it has the Lite row's
    FAIL_TO_PASS, and validate-benchmark resolves its gold patch with no --repos-dir (the mirror is registered)."""
    out, cookbook = tmp_path / "flask.jsonl", tmp_path / "cookbook"
    day = "2023-04-14"
    mine_cli("--repo", str(FLASK), "--since", day, "--until", day, "--out", str(out), cookbook=cookbook)
    task = json.loads(out.read_text().splitlines()[0])
    lite = lite_row("pallets__flask-5063")
    assert task["instance_id"] == "pallets__flask-5063" and task["base_commit"] == lite["base_commit"]
    assert task["FAIL_TO_PASS"] == json.loads(lite["FAIL_TO_PASS"])
    assert sorted(task["PASS_TO_PASS"]) == sorted(json.loads(lite["PASS_TO_PASS"]))
    env = offline_env(cookbook)
    command = [sys.executable, "-m", "cookbook", "validate-benchmark", "--dataset", str(out), "--harness", "docker"]
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=1800)
    assert "1/1 gold resolved, 0/1 empty resolved, 0 environment errors" in done.stdout, done.stdout + done.stderr


@pytest.mark.slow
def test_the_notebook_learns_on_mined_tasks_offline(no_new_leftovers, offline, run_name, mined_widgets, monkeypatch):
    """DATASET = "mine:PATH": the tasks mined from acme/widgets (read back from the session's mining), split by
    date (the older pull request trains, the newer tests); loop 0's agent gives up, the judge and the optimizer
    (scripted) make the rule to run the tests, and in loop 1 Cline, in the tasks' Docker testbed, resolves them."""
    work, _, _, cookbook, _ = mined_widgets
    monkeypatch.setenv("COOKBOOK_DIR", str(cookbook))  # where the session's mining stored its verdicts
    since, until = WINDOW
    parameters = dict(RUN_NAME=run_name, DATASET=f"mine:{work}?since={since}&until={until}", LOOPS=2, PHOENIX=False)
    run_notebook(cookbook.parent / f"{run_name}.ipynb", **parameters, TRAIN_SIZE=1, TEST_SIZE=1, WORKERS=2)
    run_dir, rulesets_dir = run_paths(run_name)
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["split_strategy"], config["harness"]) == ("by_date", None)
    split = json.loads((run_dir / "split.json").read_text())
    assert (split["train"], split["test"]) == (["acme__widgets-7"], ["acme__widgets-9"])
    outcomes = {
        loop: {s: pd.read_csv(run_dir / f"{s}_results_{loop}.csv")["outcome"].tolist() for s in ("train", "test")}
        for loop in (0, 1)
    }
    assert outcomes[0] == {"train": ["unresolved"], "test": ["unresolved"]}
    assert outcomes[1] == {"train": ["resolved"], "test": ["resolved"]}
    assert "python -m pytest" in (rulesets_dir / "ruleset_0.txt").read_text()
    assert pd.read_csv(run_dir / "leaks_0.csv").empty
