"""Checkouts: a throwaway checkout of an instance's repository at its base commit, and its diff.

A workspace borrows the mirror's objects (git alternates, like `clone --shared`) and gets a single
branch `main` at the base commit: it is made in well under a second, never writes into the mirror,
and its history ends at the base commit (no later commit, branch or tag is reachable from it).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from cookbook.data.repositories import WorkspaceError, mirror_for
from cookbook.git import GitError, git
from cookbook.paths import cookbook_dir

# What a patch never contains: the agent's rules file, caches, virtualenvs and build output.
# Glob pathspecs relative to the repository root.
EXCLUDED_FROM_PATCH = (
    ".clinerules",
    ".clinerules/**",
    "**/__pycache__/**",
    "**/*.pyc",
    "**/.pytest_cache/**",
    "**/.mypy_cache/**",
    "**/.ruff_cache/**",
    "**/*.egg-info/**",
    ".venv/**",
    "venv/**",
    ".tox/**",
    ".eggs/**",
    "build/**",
    "dist/**",
)


def prepare_workspace(instance: dict, root: Path | str | None = None, repos_dir: Path | str | None = None) -> Path:
    """A fresh directory holding `instance["repo"]` at `instance["base_commit"]`; the caller removes it
    (`remove_workspace`). `root` is where it is made (default: `<cookbook dir>/workspaces`)."""
    mirror = mirror_for(instance["repo"], repos_dir)
    workspace = new_workspace_dir(Path(root) if root else cookbook_dir() / "workspaces", instance["instance_id"])
    try:
        objects = git("rev-parse", "--path-format=absolute", "--git-path", "objects", cwd=mirror)
        git("init", "-q", "-b", "main", str(workspace))
        (workspace / ".git" / "objects" / "info" / "alternates").write_text(objects + "\n")
        try:
            commit = git("rev-parse", "--verify", "--quiet", f"{instance['base_commit']}^{{commit}}", cwd=workspace)
            git("update-ref", "refs/heads/main", commit, cwd=workspace)
        except GitError as e:
            raise WorkspaceError(
                f"{instance['instance_id']}: commit {instance['base_commit']} is not in the mirror {mirror}; "
                "update the mirror (git fetch) or check base_commit."
            ) from e
        try:
            git("reset", "-q", "--hard", cwd=workspace)
        except GitError as e:  # a mirror that lost objects (a partial copy): the repository's fault, not the run's
            raise WorkspaceError(
                f"{instance['instance_id']}: the mirror {mirror} lacks files of commit {instance['base_commit']} "
                f"({str(e).split(': ', 2)[-1].splitlines()[0][:200]}); update the mirror."
            ) from e
        # So that an agent can commit; its commits are part of the diff against base_commit.
        git("config", "user.name", "agent", cwd=workspace)
        git("config", "user.email", "agent@workspace.invalid", cwd=workspace)
    except BaseException:
        shutil.rmtree(workspace, ignore_errors=True)
        raise
    return workspace


def remove_workspace(workspace: Path | str) -> None:
    shutil.rmtree(workspace, ignore_errors=True)


def new_workspace_dir(root: Path, instance_id: str) -> Path:
    """A fresh directory under `root` named after the instance and this process (`<id>-pid<pid>-<random>`),
    so that one left behind by a killed process can be told apart and swept."""
    root.mkdir(parents=True, exist_ok=True)
    safe_id = instance_id.replace("/", "_")
    return Path(tempfile.mkdtemp(prefix=f"{safe_id}-pid{os.getpid()}-", dir=root))


def sweep_stale_workspaces(root: Path | None = None) -> int:
    """Remove the workspaces under `root` whose process is gone (a killed run's); return how many."""
    root = root or cookbook_dir() / "workspaces"
    removed = 0
    for path in root.glob("*-pid*-*") if root.is_dir() else []:
        owner = re.search(r"-pid(\d+)-[^-]*$", path.name)
        if owner and not _alive(int(owner.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def collect_patch(workspace: Path | str, base_commit: str, exclude: tuple[str, ...] = EXCLUDED_FROM_PATCH) -> str:
    """The workspace's changes against `base_commit` as a patch that `git apply` takes.

    New files anywhere are included (the repository root too), committed changes as well; the rules
    file, caches, virtualenvs and build output are not. The workspace's own index is left untouched.
    """
    workspace = Path(workspace)
    pathspec = [".", *(f":(exclude,glob){pattern}" for pattern in exclude)]
    with tempfile.TemporaryDirectory(prefix="patch-index-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        real_index = workspace / ".git" / "index"
        if real_index.exists():  # its stat cache spares re-hashing every file
            shutil.copy(real_index, env["GIT_INDEX_FILE"])
        git("add", "-A", "--", *pathspec, cwd=workspace, env=env)
        return git(
            "diff",
            "--cached",
            "--binary",
            "--no-color",
            "--no-ext-diff",
            base_commit,
            "--",
            *pathspec,
            cwd=workspace,
            env=env,
            strip=False,
        )
