"""Mining: the candidates of a window of history (`history.py`) made into SWE-bench tasks and kept only when
their tests say so, as SWE-smith and R2E-Gym keep theirs.

For each candidate (a change to code and tests), in the environment the project builds for its repository
(`cookbook.images`: one environment per repository and version — the base of the newest candidate of that
version in the window is its `environment_setup_commit` — and a thin image per task; tests run by swebench's
`run_evaluation` with the network off):
1. its tests run at its base with the test patch, without the fix and with it (`SWEBenchHarness.test_statuses`);
2. FAIL_TO_PASS = the tests that fail (or are missing) without the fix and pass with it, as swebench grades;
   PASS_TO_PASS = the tests that pass in both;
3. a candidate with FAIL_TO_PASS must pass `validate_benchmark` (gold resolves, empty does not) to be kept.
Dropped candidates are counted by reason (`DROP_REASONS`). An infrastructure error (the harness broke) is
neither: it is counted, never stored, and the candidate is examined again by the next run.

Every verdict is stored as it is reached (`<cookbook dir>/mined/<owner>__<name>/verdicts/`), keyed by the
change, its base and its environment commit, so a run killed half-way (or a wider window later) examines only
what is new. The tasks file is rewritten atomically after every batch; the summary (`<out>.mining.json`:
candidates, kept, dropped by reason, seconds per kept task, every candidate's verdict) at the end.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from tqdm.auto import tqdm

from cookbook.data.repositories import WorkspaceError, readable_git_dir
from cookbook.files import atomic_write_text
from cookbook.git import GitError, git
from cookbook.grading import NO_CHANGE_PATCH
from cookbook.harnesses import validate_benchmark
from cookbook.images import SPEC_FIELDS, with_specs
from cookbook.images.build import BuildFailed, inputs_hash
from cookbook.images.environment import network_problem
from cookbook.mining.history import Change, History, statement_material
from cookbook.mining.statements import problem_statement, statement_client
from cookbook.paths import cookbook_dir
from cookbook.seams import ERROR, HarnessError

MINER_VERSION = "2"  # part of the key of stored verdicts: bump when what makes or keeps a task changes
BATCH = 6  # candidates examined together (one run_evaluation process for each of their test runs)
TIMEOUT = 600  # seconds one candidate's tests may run (a test that hangs without the fix would hold a batch)
ENVIRONMENT, NO_TESTS, NO_FAIL_TO_PASS = "environment", "tests do not run", "no FAIL_TO_PASS"
NOT_COLLECTED, NOT_VALID = "FAIL_TO_PASS not collected without the fix", "not valid"
DROP_REASONS = {
    ENVIRONMENT: "its environment cannot be built, or its tests need the network",
    NO_TESTS: "its tests report no results, without the fix or with it",
    NO_FAIL_TO_PASS: "no test fails without the fix and passes with it",
    NOT_COLLECTED: (
        "none of its FAIL_TO_PASS tests is even collected without the fix (a test module that imports what the "
        "fix adds): the docker harness cannot tell that from an environment where the tests do not run"
    ),
    NOT_VALID: "validate-benchmark refused it (the gold patch does not resolve, or the empty one does)",
}


@dataclass
class Verdict:
    """What became of one candidate: kept (with its task) or dropped (with the reason and what said so)."""

    instance_id: str
    commit: str
    kept: bool
    reason: str = ""  # a key of DROP_REASONS
    detail: str = ""
    task: dict | None = None


@dataclass
class MiningSummary:
    repo: str
    since: str
    until: str
    out: str
    changes: int = 0  # changes in the window (merges as one)
    candidates: int = 0  # of those, the ones that change code and tests
    examined: int = 0  # candidates with a verdict (fewer than candidates when --max stopped the run)
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    infrastructure_errors: int = 0  # not verdicts: examined again by the next run
    seconds: float = 0.0
    verdicts: list[dict] = field(default_factory=list)

    @property
    def seconds_per_kept(self) -> float | None:
        return round(self.seconds / self.kept, 1) if self.kept else None

    def text(self) -> str:
        dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items(), key=lambda x: (-x[1], x[0])))
        errors = f"; {self.infrastructure_errors} infrastructure errors (run again)" * bool(self.infrastructure_errors)
        per = [f"{self.seconds / 60:.1f} min in all"]
        if self.examined:
            per.append(f"{self.seconds / 60 / self.examined:.1f} per candidate examined")
        if self.kept:
            per.append(f"{self.seconds_per_kept / 60:.1f} per kept task")
        return (
            f"{self.repo} {self.since}..{self.until}: {self.changes} changes, {self.candidates} candidates (code and "
            f"tests), {self.examined} examined: {self.kept} kept, {sum(self.dropped.values())} dropped"
            f"{f' ({dropped})' if dropped else ''}{errors}; {', '.join(per)} → {self.out}"
        )


def mine(
    repo_path: Path | str,
    since: date,
    until: date,
    out: Path | str,
    max_tasks: int | None = None,
    repos_dir: Path | str | None = None,
    workers: int = 2,
    progress: bool = True,
    timeout: float = TIMEOUT,
) -> MiningSummary:
    """Mine `repo_path`'s history from `since` to `until` into the SWE-bench tasks file `out` (JSONL), at most
    `max_tasks` of them (the newest first); a candidate's tests may run `timeout` seconds. Returns the summary,
    also written to `<out>.mining.json`."""
    from cookbook.harnesses.swebench import SWEBenchHarness

    start = time.monotonic()
    history = History(repo_path)
    repo = history.repo_name()
    register_mirror(history, repo, repos_dir)
    changes = history.changes(since, until)
    rows = candidate_rows(history, repo, [c for c in changes if c.code_files and c.test_files])
    summary = MiningSummary(repo, since.isoformat(), until.isoformat(), str(out), len(changes), len(rows))
    harness = SWEBenchHarness(workers=workers, timeout=timeout, repos_dir=repos_dir)
    if rows:
        harness.check_ready()  # an engine answers, before any image is built
    store = cookbook_dir() / "mined" / repo.replace("/", "__") / "verdicts"
    verdicts: dict[str, Verdict] = {}
    writer = TaskWriter(Path(out), repo, max_tasks)
    with tqdm(total=len(rows), desc=f"mining {repo}", unit="candidate", disable=not progress) as bar:
        for batch in [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]:
            if max_tasks is not None and writer.count >= max_tasks:
                break
            stored = {r["instance_id"]: read_verdict(store, r) for r in batch}
            todo = [r for r in batch if stored[r["instance_id"]] is None]
            fresh, errors = examine(todo, harness, progress) if todo else ({}, [])
            if todo and len(errors) == len(todo):  # the harness, not the candidates: stop (what is done is kept)
                raise HarnessError(
                    f"mine: every candidate of a batch met an infrastructure error, the first: {errors[0]}. "
                    "Fix it and run the same command again: the verdicts so far are kept."
                )
            for row in todo:
                if row["instance_id"] in fresh:
                    atomic_write_text(store / f"{verdict_key(row)}.json", json.dumps(asdict(fresh[row["instance_id"]])))
            verdicts |= {iid: v for iid, v in {**stored, **fresh}.items() if v is not None}
            summary.infrastructure_errors += len(errors)
            writer.write([v.task for v in verdicts.values() if v.kept])
            bar.update(len(batch))
            dropped = sum(not v.kept for v in verdicts.values())
            bar.set_postfix(kept=writer.count, dropped=dropped, errors=summary.infrastructure_errors)
    writer.write([v.task for v in verdicts.values() if v.kept])  # a window without candidates: an empty file
    summary.examined, summary.kept = len(verdicts), writer.count
    for verdict in verdicts.values():
        if not verdict.kept:
            summary.dropped[verdict.reason] = summary.dropped.get(verdict.reason, 0) + 1
    summary.seconds = round(time.monotonic() - start, 1)
    summary.verdicts = [{k: v for k, v in asdict(x).items() if k != "task"} for x in verdicts.values()]
    atomic_write_text(summary_path(out), json.dumps({**asdict(summary), "finished": True}, indent=1))
    return summary


def summary_path(out: Path | str) -> Path:
    return Path(f"{out}.mining.json")


def candidate_rows(history: History, repo: str, candidates: list[Change]) -> list[dict]:
    """A task row per candidate (newest first), its FAIL_TO_PASS still unknown; the rows of one version share
    an environment: the base of its newest candidate, with dependencies as of that day."""
    rows, environments, seen = [], {}, set()
    for change in candidates:
        version = history.version(change.base)
        environments.setdefault(version, change.base)  # newest first: the first seen is the newest
        instance_id = f"{repo.replace('/', '__')}-{change.pull_request or change.commit[:7]}"
        if instance_id in seen:  # one pull request's number on two changes (a backport)
            instance_id = f"{instance_id}-{change.commit[:7]}"
        seen.add(instance_id)
        rows.append(
            {
                "repo": repo,
                "instance_id": instance_id,
                "base_commit": change.base,
                "patch": history.diff(change, change.code_files),
                "test_patch": history.diff(change, change.test_files),
                "problem_statement": statement_material(change)
                or f"{repo}: the change {change.commit[:7]} has no description.",
                "hints_text": "",
                "created_at": change.created_at,
                "version": version,
                "environment_setup_commit": environments[version],
                "FAIL_TO_PASS": [],
                "PASS_TO_PASS": [],
                "mined_from": change.commit,
            }
        )
    return rows


def verdict_key(row: dict) -> str:
    return inputs_hash(MINER_VERSION, row["mined_from"], row["base_commit"], row["environment_setup_commit"])


def read_verdict(store: Path, row: dict) -> Verdict | None:
    path = store / f"{verdict_key(row)}.json"
    return Verdict(**json.loads(path.read_text())) if path.exists() else None


def examine(rows: list[dict], harness, progress: bool = False) -> tuple[dict[str, Verdict], list[str]]:
    """Run each candidate's tests without and with its fix: ({instance_id: verdict}, the reasons of the
    infrastructure errors met: those candidates have no verdict)."""
    from swebench.harness.grading import test_failed, test_passed

    verdicts: dict[str, Verdict] = {}

    def drop(row: dict, reason: str, detail: str) -> None:
        verdicts[row["instance_id"]] = Verdict(row["instance_id"], row["mined_from"], False, reason, detail)

    for row in rows:
        if network_problem(row):
            drop(row, ENVIRONMENT, f"its tests need the network: {network_problem(row)}")
    specced, failed = with_specs([r for r in rows if r["instance_id"] not in verdicts], harness.repos_dir, progress)
    errors = []
    for row in rows:
        failure = failed.get(row["instance_id"])
        if isinstance(failure, BuildFailed):
            drop(row, ENVIRONMENT, f"the environment cannot be built: {failure}")
        elif failure is not None:  # the copy of the repository lacks a commit or its files: fetch, and run again
            errors.append(f"{row['instance_id']}: {failure}")
    if not specced:
        return verdicts, errors
    without = harness.test_statuses(specced, {r["instance_id"]: NO_CHANGE_PATCH for r in specced})
    with_fix = harness.test_statuses(specced, {r["instance_id"]: r["patch"] for r in specced})
    tasks, uncollected = [], set()
    for row, (before, before_map), (after, after_map) in zip(specced, without, with_fix, strict=True):
        if ERROR in (before.outcome, after.outcome):
            errors.append(f"{row['instance_id']}: {(before if before.outcome == ERROR else after).reason}")
        elif not before_map or not after_map:
            which, run = ("without", before) if not before_map else ("with", after)
            drop(row, NO_TESTS, f"{which} the fix: {run.reason}")
        else:
            f2p = [t for t in after_map if test_passed(t, after_map) and test_failed(t, before_map)]
            p2p = [t for t in after_map if test_passed(t, before_map) and test_passed(t, after_map)]
            if f2p:
                tasks.append({**row, "FAIL_TO_PASS": f2p, "PASS_TO_PASS": p2p})
                if not any(t in before_map for t in f2p):
                    uncollected.add(row["instance_id"])
            else:
                drop(row, NO_FAIL_TO_PASS, f"{len(p2p)} tests pass without the fix and with it, none fails")
    for task, check in zip(tasks, validate_benchmark(tasks, harness).to_dict("records") if tasks else [], strict=True):
        if check["ok"]:
            clean = {k: v for k, v in task.items() if k not in SPEC_FIELDS}  # images are this machine's
            verdicts[task["instance_id"]] = Verdict(task["instance_id"], task["mined_from"], True, task=clean)
        elif check["error_kind"] == "harness":
            errors.append(f"{task['instance_id']}: {check['why']}")
        elif check["error_kind"] == ENVIRONMENT:
            drop(task, NOT_COLLECTED if task["instance_id"] in uncollected else ENVIRONMENT, check["why"])
        else:
            drop(task, NOT_VALID, check["why"])
    return verdicts, errors


class TaskWriter:
    """The tasks file, rewritten atomically with every kept task so far (oldest first), each with its problem
    statement (rewritten by the judge's model when one is configured; each rewrite asked once)."""

    def __init__(self, out: Path, repo: str, max_tasks: int | None):
        self.out, self.repo, self.max_tasks = out, repo, max_tasks
        self.client = statement_client()
        self.statements: dict[str, str] = {}
        self.count = 0

    def write(self, tasks: list[dict]) -> None:
        newest_first = sorted(tasks, key=lambda t: t["created_at"], reverse=True)[: self.max_tasks]
        lines = []
        for task in sorted(newest_first, key=lambda t: (t["created_at"], t["instance_id"])):
            iid = task["instance_id"]
            if iid not in self.statements:
                material = task["problem_statement"]
                self.statements[iid] = problem_statement(material, self.repo, task["FAIL_TO_PASS"], self.client)
            lines.append(json.dumps({**task, "problem_statement": self.statements[iid]}) + "\n")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out, "".join(lines))
        self.count = len(lines)


def register_mirror(history: History, repo: str, repos_dir: Path | str | None = None) -> Path:
    """Make the repository the mirror of `repo` that images and workspaces are made from (`mirror_for`): a link
    `<owner>__<name>.git` to its git directory in `repos_dir`, else in the cookbook's mirror cache (so
    `validate-benchmark` and `run` find it with no --repos-dir). A copy already there is used when it holds
    the repository's head commit; another one is an error that says what to do."""
    folder = Path(repos_dir) if repos_dir else cookbook_dir() / "repos"
    link = folder / f"{repo.replace('/', '__')}.git"
    if link.is_symlink():
        link.unlink()  # a link of the project's: pointed at this repository again
    elif link.exists():
        if link.resolve() == history.path.resolve():
            return link
        head = history.git("rev-parse", "HEAD")
        try:
            git("cat-file", "-e", f"{head}^{{commit}}", cwd=readable_git_dir(link))
            return link
        except GitError:
            raise WorkspaceError(
                f"{link} holds another copy of {repo} without {history.path}'s head commit {head[:12]}: "
                f"update it (git fetch), remove it, or mine with --repos-dir pointing elsewhere."
            ) from None
    folder.mkdir(parents=True, exist_ok=True)
    link.symlink_to(history.git_dir)
    return link
