"""A repository's history read as candidate tasks: the changes that touch both code and tests, each with the
state before it and its two patches.

What one change is, where a repository merges pull requests:
- the mainline is the first-parent line of the checked-out branch (`HEAD`);
- a merge on it is **one change** (the pull request it merges), its base the merge's **first parent** (the
  mainline as it was) and its patch the diff from that parent to the merge: what the merge brought, whatever
  the branch's own commits did on the way (they are not candidates of their own);
- but a merge whose branch holds merges of its own that bring in work not yet on the mainline (a maintenance
  branch merged back, with the pull requests merged into it) is no single change: the commits on that
  branch's first-parent line are read the same way, each with its own first parent as base. A branch that
  only merged the mainline into itself to catch up is still one change;
- a commit on the mainline that is not a merge (a direct push, a squash-merged pull request) is one change.

Test files are those under a `test`, `tests`, `testing` or `e2e` folder, or named `test_*`, `*_test.py`,
`conftest.py`; documentation (`docs/`, `*.rst`, `*.md`, changelogs and their fragments) and CI settings are
neither code nor tests and stay out of both patches, as they are out of SWE-bench's gold patches.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from cookbook.data.repositories import WorkspaceError, readable_git_dir
from cookbook.git import GitError, git

TEST_FOLDERS = {"test", "tests", "testing", "e2e"}
DOC_FOLDERS = {"doc", "docs", "documentation", "changes", "changelog.d", "newsfragments", ".github"}
DOC_SUFFIXES = (".rst", ".md", ".adoc")
DOC_NAMES = re.compile(r"^(CHANGES|CHANGELOG|HISTORY|NEWS|AUTHORS|CONTRIBUTORS|RELEASE)", re.I)
PULL_REQUEST = re.compile(r"^Merge pull request #(\d+)|\(#(\d+)\)\s*$|^See merge request \S*!(\d+)", re.M)
MERGE_SUBJECT = re.compile(r"^Merge (pull request|branch|remote-tracking branch|tag|commit)\b.*$", re.M)
TRAILER = re.compile(r"^(Co-authored-by|Signed-off-by|Reviewed-by|Acked-by|Tested-by|Change-Id):.*$", re.I | re.M)


@dataclass(frozen=True)
class Change:
    """One change of the history: the commit that made it (a merge, or a plain commit) and its base."""

    commit: str
    base: str  # the state before the change: the commit's first parent
    when: datetime  # the commit's committer date, in UTC
    pull_request: str = ""  # the pull request's number where the history names it
    messages: tuple[str, ...] = ()  # the commit's message, then its branch's own commits' (oldest first)
    files: tuple[str, ...] = field(default=(), compare=False)  # every file it touches

    @property
    def test_files(self) -> list[str]:
        return [f for f in self.files if is_test_file(f)]

    @property
    def code_files(self) -> list[str]:
        return [f for f in self.files if not is_test_file(f) and not is_doc_file(f)]

    @property
    def created_at(self) -> str:
        return self.when.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_test_file(path: str) -> bool:
    *folders, name = path.split("/")
    return (
        any(f in TEST_FOLDERS for f in folders)
        or name.startswith("test_")
        or name.endswith(("_test.py", "_tests.py"))
        or name in ("conftest.py", "tests.py")
    )


def is_doc_file(path: str) -> bool:
    *folders, name = path.split("/")
    return bool(set(folders) & DOC_FOLDERS) or name.endswith(DOC_SUFFIXES) or bool(DOC_NAMES.match(name))


class History:
    """The history of the repository at `path`: a working tree, a bare repository or a mirror (one copied
    without its empty `refs/` folder too)."""

    def __init__(self, path: Path | str):
        self.path = Path(path).expanduser().absolute()  # as named: a link `owner__name.git` names the repository
        if not self.path.is_dir():
            raise WorkspaceError(f"mine: {path} is not a folder (give a working tree, a bare repository or a mirror).")
        try:
            self.git_dir = Path(git("rev-parse", "--absolute-git-dir", cwd=self.path))
        except GitError:
            self.git_dir = readable_git_dir(self.path)
        self._parents: dict[str, list[str]] = {}

    def git(self, *args: str, strip: bool = True) -> str:
        return git(*args, cwd=self.git_dir, strip=strip)

    def repo_name(self) -> str:
        """owner/name from the origin's URL, else from the folder's name (`owner__name.git` as mirrors are
        named, else the name alone)."""
        try:
            url = self.git("config", "--get", "remote.origin.url")
        except GitError:
            url = ""
        remote = re.match(r"^[\w+.-]+://", url) and not url.startswith("file:") or re.match(r"^[\w.-]+@[\w.-]+:", url)
        match = re.search(r"[:/]([\w.-]+)/([\w.-]+?)(?:\.git)?/*$", url)
        if remote and match:
            return f"{match.group(1)}/{match.group(2)}"
        folder = (self.path.parent if self.path.name == ".git" else self.path).name.removesuffix(".git")
        return folder.replace("__", "/", 1) if "__" in folder else folder

    # -- the changes ----------------------------------------------------------------------------------
    def changes(self, since: date, until: date, rev: str = "HEAD") -> list[Change]:
        """Every change made between `since` and `until` (whole days, UTC), newest first."""
        try:
            self.git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        except GitError:
            raise WorkspaceError(f"mine: {self.path} has no commit at {rev} (an empty repository?).") from None
        start = datetime.combine(since, datetime.min.time(), UTC)
        end = datetime.combine(until, datetime.max.time(), UTC)
        found = []
        for commit in self._line(rev, stop=None, after=start):
            found += self._changes_at(commit, start, end)
        return sorted(found, key=lambda c: c.when, reverse=True)

    def _line(self, tip: str, stop: str | None, after: datetime | None = None) -> list[tuple[str, list[str], datetime]]:
        """The first-parent line from `tip` (not reaching `stop`): (commit, parents, date), newest first;
        with `after`, only the commits made since then."""
        args = ["log", "--first-parent", "--format=%H %P %ct", tip, *(["--not", stop] if stop else [])]
        line = []
        for entry in self.git(*args).splitlines():
            commit, *parents, stamp = entry.split()
            when = datetime.fromtimestamp(int(stamp), UTC)
            if after is not None and when < after:
                break  # the mainline's dates only go back from here (a late rebase aside)
            line.append((commit, parents, when))
        return line

    def _changes_at(self, entry: tuple[str, list[str], datetime], start: datetime, end: datetime) -> list[Change]:
        commit, parents, when = entry
        if not parents:
            return []  # the root commit has no state before it
        if len(parents) > 1 and self._merges_a_branch_of_merges(parents[0], parents[1]):
            found = []
            for inner in self._line(parents[1], stop=parents[0]):
                found += self._changes_at(inner, start, end)
            return found
        if not start <= when <= end:
            return []
        return [self._change(commit, parents, when)]

    def _merges_a_branch_of_merges(self, first: str, second: str) -> bool:
        """True when the branch merged at `second` holds merges that bring in work not on `first`'s line."""
        side = {}
        for entry in self.git("rev-list", "--parents", second, "--not", first).splitlines():
            commit, *parents = entry.split()
            side[commit] = parents
        return any(len(parents) > 1 and parents[1] in side for parents in side.values())

    def _change(self, commit: str, parents: list[str], when: datetime) -> Change:
        base = parents[0]
        messages = [self.git("log", "-1", "--format=%B", commit)]
        if len(parents) > 1:  # the pull request's own commits, oldest first
            own = self.git("log", "--no-merges", "--reverse", "--format=%B%x00", parents[1], "--not", base)
            messages += [m.strip() for m in own.split("\0") if m.strip()]
        number = next((n for m in PULL_REQUEST.finditer(messages[0]) for n in m.groups() if n), "")
        files = self.git("diff", "--no-renames", "--name-only", "-z", base, commit, strip=False).split("\0")
        return Change(commit, base, when, number, tuple(messages), tuple(f for f in files if f))

    # -- one change's patches and version -------------------------------------------------------------
    def diff(self, change: Change, files: list[str]) -> str:
        """The change to `files` as a patch that `git apply` takes (binary files included)."""
        if not files:
            return ""
        pathspec = [f":(literal){f}" for f in files]
        return self.git(
            "diff", "--binary", "--no-renames", "--no-color", "--no-ext-diff", change.base, change.commit, "--",
            *pathspec, strip=False,
        )  # fmt: skip

    def version(self, commit: str) -> str:
        """The repository's version at `commit` as major.minor (SWE-bench's `version`): the one its metadata or
        its package's `__version__` states, else its latest tag, else "0.0"."""
        for found in self._declared_versions(commit):
            short = re.match(r"v?(\d+)\.(\d+)", found)
            if short:
                return f"{short.group(1)}.{short.group(2)}"
        return "0.0"

    def _declared_versions(self, commit: str):
        show = self._show
        try:
            yield str(tomllib.loads(show(commit, "pyproject.toml")).get("project", {}).get("version", ""))
        except tomllib.TOMLDecodeError:
            pass
        cfg = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            cfg.read_string(show(commit, "setup.cfg"))
            yield cfg.get("metadata", "version", fallback="")
        except configparser.Error:
            pass
        literal = re.search(r"\bversion\s*=\s*['\"](\d[^'\"]*)['\"]", show(commit, "setup.py"))
        yield literal.group(1) if literal else ""
        listed = self.git("ls-tree", "-r", "--name-only", commit).splitlines()
        for path in [p for p in listed if VERSION_FILE.match(p)]:
            text = show(commit, path)
            stated = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
            stated = stated or re.search(r"^VERSION\s*=\s*\(\s*(\d+\s*,\s*\d+)", text, re.M)
            if stated:
                yield stated.group(1).replace(" ", "").replace(",", ".")
        try:
            yield self.git("describe", "--tags", "--abbrev=0", commit)
        except GitError:
            pass

    def _show(self, commit: str, path: str) -> str:
        try:
            return self.git("show", f"{commit}:{path}", strip=False)
        except GitError:
            return ""


VERSION_FILE = re.compile(r"^(src/)?[A-Za-z_]\w*/(__init__|_version|version|__about__)\.py$")


def statement_material(change: Change) -> str:
    """What the history says of a change, for its problem statement: its messages without merge subjects,
    trailers and pull-request numbers, each said once."""
    said: list[str] = []
    for message in change.messages:
        text = TRAILER.sub("", MERGE_SUBJECT.sub("", message))
        text = re.sub(r"[ \t]*\(#\d+\)[ \t]*$", "", text.strip(), flags=re.M).strip()
        if text and text not in said:
            said.append(text)
    return "\n\n".join(said)
