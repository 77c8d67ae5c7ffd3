"""Repositories: one local mirror (a bare repository) per repository, found in this order:
1. `repos_dir/<owner>__<name>.git` (or a plain checkout `repos_dir/<owner>__<name>`), when a
   `repos_dir` is given: the user's own mirrors, used read-only, so real SWE-bench repositories
   work offline (a copy that lost its empty folders, which git then no longer takes for a repository,
   is read through a small repository of the project's that borrows its objects);
2. the bundled benchmark's mirrors, built from `bundled/`;
3. `<cookbook dir>/repos/<owner>__<name>.git`, cloned from GitHub the first time.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from cookbook.data import bundled
from cookbook.files import file_lock
from cookbook.git import GitError, git
from cookbook.paths import cookbook_dir
from cookbook.seams import CookbookError


class WorkspaceError(CookbookError):
    """The workspace cannot be made: no mirror for the repository, or the commit is not in it."""


def mirror_for(repo: str, repos_dir: Path | str | None = None) -> Path:
    """The local mirror (a git directory) that holds `repo` ("owner/name"), made if needed."""
    owner_name = repo.replace("/", "__")
    if repos_dir is not None:
        repos_dir = Path(repos_dir)
        for candidate in (repos_dir / f"{owner_name}.git", repos_dir / owner_name):
            if candidate.is_dir():
                return readable_git_dir(candidate)
    if bundled.is_bundled_repo(repo):
        package = bundled.BUNDLED_DIR / repo.split("/", 1)[1]
        bundled.build_mirror(package, Path(repos_dir) if repos_dir else None)
        return bundled.mirror_path(package.name, Path(repos_dir) if repos_dir else None)
    if repos_dir is not None:
        raise WorkspaceError(
            f"No mirror of {repo} in {repos_dir}: expected {owner_name}.git there "
            f"(make one with: git clone --mirror https://github.com/{repo}.git {repos_dir}/{owner_name}.git)."
        )
    mirror = cookbook_dir() / "repos" / f"{owner_name}.git"
    with file_lock(mirror.with_suffix(".lock")):
        if not (mirror / "HEAD").exists():
            url = f"https://github.com/{repo}.git"
            try:
                git("clone", "-q", "--mirror", url, str(mirror))
            except GitError as e:
                shutil.rmtree(mirror, ignore_errors=True)
                raise WorkspaceError(
                    f"Could not clone {url} ({e}). Offline, point repos_dir at a folder of mirrors "
                    f"named <owner>__<name>.git."
                ) from e
    return mirror


def readable_git_dir(mirror: Path) -> Path:
    """`mirror`, or — when git does not take it for a repository (a bare mirror copied without its empty
    `refs/` folder) — a repository of the project's that borrows its objects, its packed refs and its HEAD."""
    try:
        git("rev-parse", "--git-dir", cwd=mirror)
        return mirror
    except GitError:
        if not (mirror / "objects").is_dir():
            raise WorkspaceError(
                f"{mirror} is neither a git repository nor a bare mirror (it has no objects/)."
            ) from None
    where = hashlib.sha1(str(mirror.resolve()).encode()).hexdigest()[:8]
    shadow = cookbook_dir() / "repos" / "borrowed" / f"{mirror.resolve().name.removesuffix('.git')}-{where}.git"
    with file_lock(shadow.with_suffix(".lock")):
        if not (shadow / "HEAD").exists():
            git("init", "-q", "--bare", str(shadow))
            (shadow / "objects" / "info" / "alternates").write_text(f"{(mirror / 'objects').resolve()}\n")
        for name in ("packed-refs", "HEAD"):  # its branches, and which of them is checked out
            if (mirror / name).is_file():
                shutil.copyfile(mirror / name, shadow / name)  # not its read-only mode
    return shadow


def check_repositories(instances: list[dict], repos_dir: Path | str | None = None) -> None:
    """Every instance's repository has a mirror (made now if needed: bundled, cloned) that holds its
    base commit; else WorkspaceError naming the instances and what to do."""
    by_repo: dict[str, list[dict]] = {}
    for inst in instances:
        by_repo.setdefault(inst["repo"], []).append(inst)
    for repo, rows in by_repo.items():
        mirror = mirror_for(repo, repos_dir)
        wanted = "".join(f"{row['base_commit']}^{{commit}}\n" for row in rows)
        answer = git("cat-file", "--batch-check", cwd=mirror, input=wanted).splitlines()
        missing = [row["instance_id"] for row, line in zip(rows, answer, strict=True) if line.endswith("missing")]
        if missing:
            listed = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise WorkspaceError(
                f"The mirror of {repo} ({mirror}) lacks the base commit of {listed}; "
                "update the mirror (git fetch) or check the dataset's base_commit."
            )
