"""Workspace preparation: from the local mirror cache versus a fresh clone, printed as a ratio.

A fresh clone is `git clone --no-local` of the same mirror plus a checkout of the base commit:
what preparing a workspace costs without the cache, even before any network time. Measured on a
bundled task and on a synthetic repository of SWE-bench size (thousands of files, long history).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from cookbook.data import load_instances
from cookbook.data.repositories import mirror_for
from cookbook.git import git
from cookbook.workspaces.checkout import prepare_workspace, remove_workspace

REPEATS = 5


def fresh_clone(mirror: Path, base_commit: str, root: Path) -> Path:
    target = Path(tempfile.mkdtemp(dir=root))
    git("clone", "-q", "--no-local", "--no-checkout", str(mirror), str(target))
    git("checkout", "-q", base_commit, cwd=target)
    return target


def timed(fn, repeats=REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        made = fn()
        times.append(time.perf_counter() - start)
        shutil.rmtree(made, ignore_errors=True)
    return statistics.median(times)


def synthetic_mirror(root: Path, files: int = 3000, commits: int = 300) -> tuple[Path, str]:
    """A repository with `files` Python files and `commits` commits, as a bare mirror."""
    work = root / "synthetic-work"
    work.mkdir()
    git("init", "-q", "-b", "main", str(work))
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    for i in range(files):
        path = work / f"pkg{i % 40}" / f"module_{i}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(f"def f_{i}_{j}(x):\n    return x * {j} + {i}\n\n" for j in range(40)))
    git("add", "-A", cwd=work)
    git("commit", "-qm", "initial", cwd=work, env=env)
    for c in range(commits):
        for k in range(5):
            m = (c * 7 + k) % files
            path = work / f"pkg{m % 40}" / f"module_{m}.py"
            path.write_text(path.read_text() + f"# change {c}.{k}\n")
        subprocess.run(["git", "commit", "-qam", f"change {c}"], cwd=work, env=env, check=True)
    mirror = root / "synthetic__repo.git"
    git("clone", "-q", "--mirror", str(work), str(mirror))
    return mirror, git("rev-parse", "HEAD~10", cwd=work)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    try:
        bundled = load_instances("bundled").iloc[0].to_dict()
        cases = [("bundled task", bundled, None)]
        mirror, commit = synthetic_mirror(root)
        repos_dir = mirror.parent
        cases.append(
            (
                "synthetic 3,000 files / 300 commits",
                {"instance_id": "synthetic-1", "repo": "synthetic/repo", "base_commit": commit},
                repos_dir,
            )
        )
        print(f"workspace preparation, median of {REPEATS}")
        for label, instance, repos in cases:
            m = mirror_for(instance["repo"], repos)
            cached = timed(
                lambda instance=instance, repos=repos: prepare_workspace(instance, root=root, repos_dir=repos)
            )
            fresh = timed(lambda m=m, instance=instance: fresh_clone(m, instance["base_commit"], root))
            print(
                f"  {label:38s} cache {cached * 1000:7.0f} ms   fresh clone {fresh * 1000:7.0f} ms   "
                f"ratio fresh/cache {fresh / cached:5.1f}x"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
        remove_workspace(root)


if __name__ == "__main__":
    main()
