import shutil

import pytest

from cookbook.data import bundled as bundled_benchmark
from cookbook.data.repositories import WorkspaceError, mirror_for
from cookbook.git import git
from cookbook.workspaces.checkout import collect_patch, prepare_workspace, remove_workspace


@pytest.fixture
def instance(bundled):
    return bundled.iloc[0].to_dict()


@pytest.fixture
def workspace(instance, tmp_path):
    ws = prepare_workspace(instance, root=tmp_path)
    yield ws
    remove_workspace(ws)


def test_workspace_is_at_base_commit_with_no_later_history(instance, workspace):
    assert git("rev-parse", "HEAD", cwd=workspace) == instance["base_commit"]
    assert git("status", "--porcelain", cwd=workspace) == ""
    # only the workspace's own branch: other tasks' commits (which hold this task's fix) are unreachable
    assert git("for-each-ref", "--format=%(refname)", cwd=workspace) == "refs/heads/main"
    assert collect_patch(workspace, instance["base_commit"]) == ""


def test_diff_captures_new_root_file_and_docs_but_not_rules_or_caches(instance, workspace):
    (workspace / "NEW_AT_ROOT.py").write_text("x = 1\n")
    (workspace / "notes.md").write_text("a doc the agent wrote\n")
    (workspace / "data.txt").write_text("text\n")
    (workspace / ".clinerules").write_text("- always run the tests\n")
    (workspace / "src" / "__pycache__").mkdir(exist_ok=True)
    (workspace / "src" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0\1")
    (workspace / ".venv" / "bin").mkdir(parents=True)
    (workspace / ".venv" / "bin" / "python").write_text("#!/bin/sh\n")
    (workspace / "pkg.egg-info").mkdir()
    (workspace / "pkg.egg-info" / "PKG-INFO").write_text("Name: pkg\n")
    patch = collect_patch(workspace, instance["base_commit"])
    assert "b/NEW_AT_ROOT.py" in patch
    assert "b/notes.md" in patch and "b/data.txt" in patch
    assert ".clinerules" not in patch
    assert "__pycache__" not in patch and ".venv" not in patch and "egg-info" not in patch
    # the workspace's own index is untouched
    assert git("diff", "--cached", "--name-only", cwd=workspace) == ""


def test_diff_includes_edits_deletions_and_commits_and_applies_back(instance, workspace, tmp_path):
    tracked = git("ls-files", cwd=workspace).splitlines()
    py_files = [f for f in tracked if f.endswith(".py") and f.startswith("src/")]
    edited, deleted = py_files[0], py_files[-1]
    (workspace / edited).write_text((workspace / edited).read_text() + "\n# edited\n")
    git("commit", "-qam", "agent commit", cwd=workspace)
    (workspace / deleted).unlink()
    patch = collect_patch(workspace, instance["base_commit"])
    assert f"b/{edited}" in patch and "deleted file mode" in patch
    fresh = prepare_workspace(instance, root=tmp_path)
    git("apply", "-", cwd=fresh, input=patch)
    assert (fresh / edited).read_text().endswith("# edited\n")
    assert not (fresh / deleted).exists()
    remove_workspace(fresh)


def test_mirror_commits_are_deterministic(tmp_path, bundled):
    package = bundled_benchmark.package_dirs()[0]
    first = bundled_benchmark.build_mirror(package, repos_dir=tmp_path / "a")
    second = bundled_benchmark.build_mirror(package, repos_dir=tmp_path / "b")
    assert first == second
    assert set(first.values()) <= set(bundled["base_commit"])


def test_repos_dir_mirror_is_used_and_a_missing_one_is_named(instance, tmp_path):
    repos_dir = tmp_path / "mirrors"
    repos_dir.mkdir()
    owner_name = instance["repo"].replace("/", "__")
    shutil.copytree(mirror_for(instance["repo"]), repos_dir / f"{owner_name}.git")
    assert mirror_for(instance["repo"], repos_dir) == repos_dir / f"{owner_name}.git"
    ws = prepare_workspace(instance, root=tmp_path / "ws", repos_dir=repos_dir)
    assert git("rev-parse", "HEAD", cwd=ws) == instance["base_commit"]
    with pytest.raises(WorkspaceError, match="No mirror of someone/else"):
        mirror_for("someone/else", repos_dir)


def test_unknown_base_commit_is_a_clear_error(instance, tmp_path):
    with pytest.raises(WorkspaceError, match="is not in the mirror"):
        prepare_workspace({**instance, "base_commit": "0" * 40}, root=tmp_path)
    with pytest.raises(WorkspaceError, match="is not in the mirror"):
        prepare_workspace({**instance, "base_commit": "1234567" * 5 + "89abc"}, root=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-made is left behind
