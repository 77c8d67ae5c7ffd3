"""The bundled offline benchmark: tasks read from `bundled/`, repositories built as real git mirrors.

Each package under `bundled/<package>/` holds the package in its fixed state (`repo/`) and one
folder per task (see `bundled/README.md`). A task's base commit is `repo/` with the task's
`test.patch` and `gold.patch` reversed, committed with fixed author, committer and dates, so the
commit hash is the same on every machine. Each base commit is a root commit: a workspace made from
it carries no history that holds the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from cookbook.files import atomic_write_text, file_lock
from cookbook.git import GitError, git
from cookbook.paths import BUNDLED_DIR, cookbook_dir

OWNER = "bundled"
IGNORED_NAMES = {"__pycache__", ".pytest_cache", ".git", ".ruff_cache", ".mypy_cache"}


def package_dirs(bundled_dir: Path = BUNDLED_DIR) -> list[Path]:
    return sorted(p for p in bundled_dir.iterdir() if (p / "repo").is_dir() and (p / "tasks").is_dir())


def is_bundled_repo(repo: str) -> bool:
    return repo.startswith(OWNER + "/")


def load_bundled_instances(bundled_dir: Path = BUNDLED_DIR, repos_dir: Path | None = None) -> list[dict]:
    """Every bundled task as a SWE-bench instance, its repository built (or reused) first."""
    rows = []
    for package in package_dirs(bundled_dir):
        commits = build_mirror(package, repos_dir)
        tasks = [
            _instance(package, task_dir, commits[task_dir.name]) for task_dir in sorted((package / "tasks").iterdir())
        ]
        # one environment per package, as SWE-bench has one per version: the commit of its latest task
        latest = max(tasks, key=lambda task: task["created_at"])["base_commit"]
        rows += [{**task, "environment_setup_commit": latest} for task in tasks]
    return rows


TASK_FILES = ("issue.md", "gold.patch", "test.patch", "task.json")


def _task_meta(task_dir: Path) -> dict:
    missing = [name for name in TASK_FILES if not (task_dir / name).is_file()]
    if missing:
        raise RuntimeError(f"bundled task {task_dir} lacks {', '.join(missing)} (see bundled/README.md).")
    return json.loads((task_dir / "task.json").read_text())


def _instance(package: Path, task_dir: Path, base_commit: str) -> dict:
    meta = _task_meta(task_dir)
    return {
        "instance_id": task_dir.name,
        "repo": f"{OWNER}/{package.name}",
        "base_commit": base_commit,
        "environment_setup_commit": base_commit,
        "problem_statement": (task_dir / "issue.md").read_text(),
        "patch": (task_dir / "gold.patch").read_text(),
        "test_patch": (task_dir / "test.patch").read_text(),
        "FAIL_TO_PASS": meta["FAIL_TO_PASS"],
        "PASS_TO_PASS": meta["PASS_TO_PASS"],
        "version": str(meta["version"]),
        "created_at": meta["created_at"],
        "hints_text": meta.get("hints_text", ""),
        "difficulty": meta.get("difficulty", ""),
    }


def mirror_path(package_name: str, repos_dir: Path | None = None) -> Path:
    return (repos_dir or cookbook_dir() / "repos") / f"{OWNER}__{package_name}.git"


def build_mirror(package: Path, repos_dir: Path | None = None) -> dict[str, str]:
    """Build `bundled__<package>.git` with one root commit per task; return {instance_id: commit}.

    Rebuilt only when the package's files changed (their hash is kept in the mirror).
    """
    mirror = mirror_path(package.name, repos_dir)
    source_hash = _tree_hash(package)
    stamp = mirror / "bundled-source.json"
    with file_lock(mirror.with_suffix(".lock")):
        if stamp.exists():
            saved = json.loads(stamp.read_text())
            if saved["source_hash"] == source_hash:
                return saved["commits"]
        if mirror.exists():
            shutil.rmtree(mirror)
        git("init", "-q", "--bare", str(mirror))
        commits = {}
        for task_dir in sorted((package / "tasks").iterdir()):
            commit = _commit_base_tree(package, task_dir, mirror)
            git("--git-dir", str(mirror), "update-ref", f"refs/heads/{task_dir.name}", commit)
            commits[task_dir.name] = commit
        atomic_write_text(stamp, json.dumps({"source_hash": source_hash, "commits": commits}, indent=1))
        return commits


def _commit_base_tree(package: Path, task_dir: Path, mirror: Path) -> str:
    meta = _task_meta(task_dir)
    with tempfile.TemporaryDirectory(prefix="bundled-") as tmp:
        work = Path(tmp) / "tree"
        shutil.copytree(package / "repo", work, ignore=_ignore)
        env = {
            **os.environ,
            "GIT_DIR": str(mirror),
            "GIT_WORK_TREE": str(work),
            "GIT_INDEX_FILE": str(Path(tmp) / "index"),
            "GIT_AUTHOR_NAME": "bundled benchmark",
            "GIT_AUTHOR_EMAIL": "bench@bundled.invalid",
            "GIT_AUTHOR_DATE": meta["created_at"],
            "GIT_COMMITTER_NAME": "bundled benchmark",
            "GIT_COMMITTER_EMAIL": "bench@bundled.invalid",
            "GIT_COMMITTER_DATE": meta["created_at"],
        }
        for patch in ("test.patch", "gold.patch"):
            try:
                git("apply", "-R", str(task_dir / patch), cwd=work, env=env)
            except GitError as e:
                raise RuntimeError(f"{task_dir.name}: {patch} does not reverse-apply to {package / 'repo'}: {e}") from e
        # Settings a user may have that would change the tree or the hash are pinned.
        git("-c", "core.autocrlf=false", "-c", "core.excludesFile=", "add", "-A", cwd=work, env=env)
        tree = git("write-tree", cwd=work, env=env)
        message = f"{package.name} {meta['version']}\n"
        return git("-c", "commit.gpgSign=false", "commit-tree", tree, "-m", message, cwd=work, env=env)


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in IGNORED_NAMES or n.endswith((".pyc", ".egg-info"))}


def _tree_hash(package: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package)
        if path.is_file() and not any(
            part in IGNORED_NAMES or part.endswith((".pyc", ".egg-info")) for part in rel.parts
        ):
            digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
