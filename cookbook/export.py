"""A run's ruleset where an agent reads it: `python -m cookbook export`.

    python -m cookbook export --run-name R [--loop best|N] --format clinerules|clinerules-file|agents|claude --to DIR

The ruleset exported is one a loop ran and scored: by default the selection policy's best (`select_best`:
on validation, else train, never test), or loop N's. Its held-out score — test accuracy over scored runs,
beside the empty ruleset's on the same instances with the paired exact test — goes with it, in a header
that names the run and the loop. An empty ruleset is refused: a rule earns its place only with a measured
gain ("Evaluating AGENTS.md", arXiv 2602.11988: context files written by a model tend to lower success and
raise cost), and when the best loop is loop 0, no learned ruleset beat having none.

Formats (`EXPORT_FORMATS`), one writer each:
- `clinerules`: a `.clinerules/` folder, one Markdown file per topic (`prompt-learning-<topic>.md`); the rules
  that name paths of the repository go to a file whose YAML frontmatter (`paths:`) scopes it to them, which
  Cline loads when the task touches those paths. The folder's other files are the user's, and kept;
- `clinerules-file`: a section of the single `.clinerules` file;
- `agents`: a section of `AGENTS.md` (Cline reads it, and many other agents);
- `claude`: a section of `CLAUDE.md` (Claude Code).
A section lies between two markers (`SECTION_BEGIN`, `SECTION_END`): the user's own text outside them is
kept, and exporting again replaces the section only. Files whose text would not change are not written,
so a second export of the same ruleset changes nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cookbook.files import atomic_write_text
from cookbook.loop.run import load_results, run_paths
from cookbook.loop.selection import select_best
from cookbook.rulesets import parse_rules
from cookbook.seams import ConfigurationError
from cookbook.stats import accuracy, compare, scored

SECTION_BEGIN = (
    "<!-- BEGIN prompt-learning rules (python -m cookbook export replaces what is between BEGIN and END) -->"
)
SECTION_END = "<!-- END prompt-learning rules -->"
FOLDER_PREFIX = "prompt-learning-"  # the export's own files in a .clinerules/ folder
# A rule's topic: the first whose words it holds (word starts), else "general".
TOPICS = (
    ("testing", ("test", "pytest", "unittest", "tox", "assert", "regression")),
    ("editing", ("edit", "patch", "diff", "modif", "change", "refactor", "import", "rename")),
    ("investigating", ("read", "search", "grep", "find", "inspect", "reproduc", "investigat", "explor", "trace")),
)
# A path of the repository named in a rule: a file with an extension, a glob, or a folder ending in "/".
EXTENSIONS = "py|pyi|pyx|cfg|toml|ini|txt|rst|md|json|ya?ml|js|ts|tsx|c|h|cpp|rs|go|java|rb|sh"
PATH = re.compile(
    rf"(?<![\w/.:-])((?:[\w.*-]+/)+(?:[\w*-]+\.\w+)?|[\w*-]*\*[\w*-]*\.\w+|[\w-]+\.(?:{EXTENSIONS}))(?![\w/])"
)
COMMAND_SPAN = re.compile(r"`[^`]*\s[^`]*`")  # `python -m pytest tests/`: a command, whose paths scope nothing


@dataclass(frozen=True)
class ChosenRuleset:
    """The ruleset a loop of a run ran, with what it scored: `test` its accuracy over scored test runs
    (NaN when none was scored), `empty_test` the empty ruleset's (loop 0) on the same instances, with the
    paired comparison (`cookbook.stats.compare`)."""

    run_name: str
    loop: int
    ruleset: str
    chosen: str  # "best on train", "best on validation", or "loop N as asked"
    test: float
    test_scored: int
    test_runs: int
    paired: dict | None  # against the empty ruleset on test; None without both

    def header(self) -> str:
        """One line naming the run, the loop and its held-out score."""
        if math.isnan(self.test):
            held_out = "no test run was scored"
        else:
            held_out = f"test accuracy {self.test:.3f} ({self.test_scored} of {self.test_runs} runs scored)"
        if self.paired and self.paired["instances"]:
            p = self.paired
            held_out += (
                f", against {p['accuracy_before']:.3f} with no rules on the same {p['instances']} instances "
                f"({p['fixed']} fixed, {p['broken']} broken; exact McNemar p = {p['p_value']:.3f})"
            )
        return f"Learned by Prompt Learning: run `{self.run_name}`, loop {self.loop} ({self.chosen}); {held_out}."

    @property
    def rules(self) -> list[str]:
        return [rule.text for rule in parse_rules(self.ruleset)]


def choose_ruleset(run_name: str, loop: str | int = "best", results_root: Path | None = None) -> ChosenRuleset:
    """The ruleset loop `loop` of the run ran ("best": the one `select_best` picks), with its scores.
    Raises ConfigurationError for a run with no finished loop, a loop it does not have, or an empty ruleset."""
    run_dir = run_paths(run_name, results_root)[0]
    rows = sorted(
        (json.loads(path.read_text()) for path in run_dir.glob("loop_*.json")), key=lambda row: int(row["loop"])
    )
    if not rows:
        raise ConfigurationError(
            f"export: run {run_name!r} has no finished loop ({run_dir}/loop_<n>.json); run it first, or name "
            f"another run (act_results/ holds them)."
        )
    history = pd.DataFrame(rows)
    if loop == "best":
        number = select_best(history)
        on = (
            "validation"
            if "validation_accuracy" in history and history["validation_accuracy"].notna().any()
            else "train"
        )
        chosen = f"the best on {on}"
    else:
        number, chosen = _loop_number(loop, [int(r["loop"]) for r in rows]), "as asked"
    ruleset = next(r["ruleset"] for r in rows if int(r["loop"]) == number)
    if not parse_rules(ruleset):
        why = "no learned ruleset beat the empty one" if loop == "best" else "it is the empty ruleset"
        raise ConfigurationError(
            f"export: loop {number} of run {run_name!r} ran no rules ({why}), so there is nothing to export; "
            "a rule earns its place only with a measured gain (--loop N exports another loop's ruleset)."
        )
    results = load_results(run_name, results_root)
    test = results.get(number, {}).get("test")
    empty = results.get(0, {}).get("test")
    paired = compare(empty, test) if test is not None and empty is not None and number != 0 else None
    return ChosenRuleset(
        run_name,
        number,
        ruleset,
        chosen if loop == "best" else f"loop {number} {chosen}",
        accuracy(test) if test is not None else math.nan,
        len(scored(test)) if test is not None else 0,
        len(test) if test is not None else 0,
        paired,
    )


def _loop_number(loop: str | int, finished: list[int]) -> int:
    try:
        number = int(loop)
    except ValueError:
        raise ConfigurationError(f"export: --loop is 'best' or a loop number, not {loop!r}.") from None
    if number not in finished:
        raise ConfigurationError(
            f"export: the run has no finished loop {number}; its loops: {', '.join(map(str, finished))}."
        )
    return number


# -- the formats -----------------------------------------------------------------------------------------
def topic_of(rule: str) -> str:
    words = re.findall(r"[a-z]+", rule.lower().replace("/testbed/", "/"))
    for topic, stems in TOPICS:
        if any(word.startswith(stem) for word in words for stem in stems):
            return topic
    return "general"


def paths_of(rule: str) -> list[str]:
    """The repository paths a rule names (outside the commands it quotes), as globs: a folder as
    `folder/**`; absolute paths other than the workspace's (/testbed) are not the repository's."""
    found = []
    for path in PATH.findall(COMMAND_SPAN.sub(" ", rule).replace("/testbed/", " ")):
        path = path.removeprefix("./")
        if path.endswith("/"):
            path += "**"
        if path not in found:
            found.append(path)
    return found


def rules_text(rules: list[str]) -> str:
    return "".join(f"- {rule}\n" for rule in rules)


def section(chosen: ChosenRuleset) -> str:
    """The export's section of a Markdown file: between the markers, the header and the rules."""
    return f"{SECTION_BEGIN}\n## Learned rules\n\n{chosen.header()}\n\n" + (
        f"{rules_text(chosen.rules)}{SECTION_END}\n"
    )


def with_section(existing: str | None, new_section: str, name: str) -> str:
    """The file's text with the export's section in place of the old one (the user's text kept), or
    appended after the user's text when the file has none."""
    if not existing:
        return new_section
    begin, end = existing.find("<!-- BEGIN prompt-learning"), existing.find("<!-- END prompt-learning")
    if begin == -1 and end == -1:
        return existing.rstrip("\n") + "\n\n" + new_section
    if begin == -1 or end < begin:
        raise ConfigurationError(
            f"export: {name} has one of the export's markers without the other ({SECTION_BEGIN!r} … "
            f"{SECTION_END!r}); restore it or remove the section by hand, then export again."
        )
    after = existing.find("\n", end)
    rest = existing[after + 1 :] if after != -1 else ""
    return existing[:begin] + new_section + rest


def folder_files(chosen: ChosenRuleset) -> dict[str, str]:
    """The `.clinerules/` files of the ruleset: {file name: text}, one per topic, and one per set of paths
    for the rules that name paths (YAML frontmatter `paths:`), in the order Cline reads them (by name)."""
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for rule in chosen.rules:
        paths = tuple(paths_of(rule))
        key = ("paths", paths) if paths else (topic_of(rule), ())
        groups.setdefault(key, []).append(rule)
    files = {}
    for (topic, paths), rules in groups.items():
        name = topic if not paths else "paths-" + (re.sub(r"[^a-z0-9]+", "-", paths[0].lower()).strip("-") or "root")
        front = "---\npaths:\n" + "".join(f'  - "{p}"\n' for p in paths) + "---\n\n" if paths else ""
        title = f"Rules for {', '.join(paths)}" if paths else f"{topic.capitalize()} rules"
        files[f"{FOLDER_PREFIX}{name}.md"] = f"{front}# {title}\n\n<!-- {chosen.header()} -->\n\n{rules_text(rules)}"
    return files


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` unless the file already holds it; True when written."""
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return True


def export_folder(chosen: ChosenRuleset, to: Path) -> dict[Path, str]:
    folder = to / ".clinerules"
    if folder.exists() and not folder.is_dir():
        raise ConfigurationError(
            f"export: {folder} is a single rules file; use --format clinerules-file to write a section of it, "
            "or make it a folder."
        )
    files = folder_files(chosen)
    done = {
        folder / name: "written" if write_if_changed(folder / name, text) else "unchanged"
        for name, text in files.items()
    }
    for stale in sorted(folder.glob(f"{FOLDER_PREFIX}*.md")):  # an earlier export's topics that are gone now
        if stale.name not in files:
            stale.unlink()
            done[stale] = "removed"
    return done


def section_writer(file_name: str) -> Callable[[ChosenRuleset, Path], dict[Path, str]]:
    """A format that writes the export's section of one Markdown file in DIR."""

    def export(chosen: ChosenRuleset, to: Path) -> dict[Path, str]:
        path = to / file_name
        if path.is_dir():
            raise ConfigurationError(
                f"export: {path} is a folder; use --format clinerules to write files into it."
                if file_name == ".clinerules"
                else f"export: {path} is a folder, not a file."
            )
        existing = path.read_text() if path.exists() else None
        text = with_section(existing, section(chosen), str(path))
        return {path: "written" if write_if_changed(path, text) else "unchanged"}

    return export


EXPORT_FORMATS: dict[str, Callable[[ChosenRuleset, Path], dict[Path, str]]] = {
    "clinerules": export_folder,
    "clinerules-file": section_writer(".clinerules"),
    "agents": section_writer("AGENTS.md"),
    "claude": section_writer("CLAUDE.md"),
}


def export_ruleset(
    run_name: str, format: str, to: Path | str, loop: str | int = "best", results_root: Path | None = None
) -> tuple[ChosenRuleset, dict[Path, str]]:
    """Write the run's chosen ruleset into folder `to` in `format` (one of EXPORT_FORMATS); returns it and
    what happened to each file ("written", "unchanged", "removed")."""
    if format not in EXPORT_FORMATS:
        raise ConfigurationError(f"export: --format is one of {', '.join(EXPORT_FORMATS)}, not {format!r}.")
    to = Path(to).expanduser()
    if to.exists() and not to.is_dir():
        raise ConfigurationError(f"export: --to {to} is a file; name the folder (the repository's root).")
    chosen = choose_ruleset(run_name, loop, results_root)
    to.mkdir(parents=True, exist_ok=True)
    return chosen, EXPORT_FORMATS[format](chosen, to)
