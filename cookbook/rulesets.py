"""Rulesets as lists of rules: ids, provenance and counters (the optimizer's delta mode), the rules that
must earn their place (counted from the judge's verdicts, dropped when they never helped, merged when
they say the same thing, cut to a token budget), and the check for rules that name one training task (a
leak: such a rule does not generalize).

**Counters.** The judge says for each rule of the ruleset a run had whether the agent followed it, broke
it, or it did not apply (`evaluate.py`, the row's `rule_verdicts`). With the run's result they count as:

    followed, run passed  → helped          (the rule was obeyed and the work succeeded)
    followed, run failed  → hurt            (obeyed, and the work still failed: its cost without its benefit)
    broken,   run failed  → broken_failed   (the agent failed without it: the rule may matter, but is ignored)
    broken,   run passed  → broken_passed   (the agent succeeded without it: the rule is not needed)
    not_applicable        → not_applicable

`judged_loops` counts the loops whose runs gave the rule a verdict. A rule "never helped" when `helped`
is 0: `drop_unhelpful` removes such a rule once it has been judged in `after` loops. A run that ignored a
rule and failed is deliberately not counted as help: the rule did not make anything succeed; if the
optimizer thinks it matters, it can rephrase it (it sees every counter).

**One line per rule.** A rule's text is one line (its line breaks become spaces), so the ruleset the agent
reads has one line per rule and the judge, shown each rule with its id (`[r4] …`), gives each rule its own
verdict; verdicts are counted to the rule of that id (`count_verdicts`), whatever the rules' order.

**Near-duplicates.** Two rules are compared by the Jaccard index of their normalized words (lower case,
a crude stem: a trailing "ing", "ed", "es" or "s" removed, common stop words left out): shared words over
all words. At `threshold` (default 0.75) or more, the later rule is merged into the earlier one (its
counters and sources added; the earlier text kept).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cookbook.grading import as_test_list, patched_files, test_name
from cookbook.llm.tokens import count_tokens

# The optimizer's answer in delta mode (structured output): operations on rules by id, and their effects.
DELTA_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "ruleset_operations",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "operations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "op": {"type": "string", "enum": ["add", "edit", "remove"]},
                            "id": {"type": "string"},
                            "text": {"type": "string"},
                            "sources": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["op", "id", "text", "sources"],
                        "additionalProperties": False,
                    },
                },
                "effects": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "effect": {"type": "string", "enum": ["helped", "hurt"]},
                        },
                        "required": ["id", "effect"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["operations", "effects"],
            "additionalProperties": False,
        },
    },
}


@dataclass
class Rule:
    """One rule: its stable id, text, the loop that added it and the instances that motivated it, and its
    counters (see the module; `helped` / `hurt` also take the optimizer's own `effects` when the rows
    carry no judge verdicts)."""

    id: str
    text: str
    loop: int | None = None
    sources: list[str] = field(default_factory=list)
    helped: int = 0
    hurt: int = 0
    broken_failed: int = 0
    broken_passed: int = 0
    not_applicable: int = 0
    judged_loops: int = 0

    def __post_init__(self) -> None:
        self.text = one_line(self.text)

    def record(self) -> str:
        """The counters as the optimizer reads them."""
        if not self.judged_loops and not (self.helped or self.hurt):
            return "not judged yet"
        return (
            f"followed in passing runs {self.helped}, followed in failing runs {self.hurt}, broken in failing runs "
            f"{self.broken_failed}, broken in passing runs {self.broken_passed}, did not apply {self.not_applicable}; "
            f"judged in {self.judged_loops} loop(s)"
        )


COUNTERS = {
    ("followed", "pass"): "helped",
    ("followed", "fail"): "hurt",
    ("broken", "fail"): "broken_failed",
    ("broken", "pass"): "broken_passed",
    ("not_applicable", "pass"): "not_applicable",
    ("not_applicable", "fail"): "not_applicable",
}
STOP_WORDS = frozenset(
    "a an the and or of to in on for with by at as is are be it its this that these those when before after "
    "then than from into any all each every do does not no you your always never only".split()
)


def one_line(text: str) -> str:
    """A rule's text on one line: its line breaks (and runs of spaces) as single spaces."""
    return " ".join(str(text).split())


def render_rules(rules: list[Rule]) -> str:
    """The plain-text ruleset the agent reads: one line per rule."""
    return "".join(f"- {one_line(rule.text)}\n" for rule in rules)


def parse_rules(text: str, loop: int | None = None) -> list[Rule]:
    """A plain-text ruleset as rules (one per bullet or non-empty line), ids r1, r2, …"""
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in (text or "").splitlines()]
    return [Rule(f"r{i}", line, loop) for i, line in enumerate((line for line in lines if line), start=1)]


def rules_of(ruleset: str, rules: list[Rule], loop: int | None = None) -> list[Rule]:
    """The rules of `ruleset` with their ids, as the judge names them and the counters find them: `rules`
    (the optimizer's, whose ids stay with a rule in delta mode) when they render `ruleset`, else its lines
    numbered r1, r2, … (`parse_rules`)."""
    return rules if rules and render_rules(rules) == ruleset else parse_rules(ruleset, loop)


def apply_operations(
    rules: list[Rule], operations: list[dict], effects: list[dict], loop: int | None, batch_ids: list[str]
) -> list[str]:
    """Apply the optimizer's operations (add / edit / remove by id) and effects (helped / hurt) to `rules`
    in place; return a report line per operation ("added r4", "ignored edit of unknown rule 'r9'" …).
    Rules no operation names are kept word for word."""
    report = []
    by_id = {rule.id: rule for rule in rules}
    next_number = max([int(r.id[1:]) for r in rules if r.id[1:].isdigit()] + [0]) + 1
    for op in operations:
        kind, rule_id, text = op.get("op"), str(op.get("id", "")), str(op.get("text", "")).strip()
        if kind == "add" and text:
            sources = [s for s in op.get("sources", []) if s in batch_ids] or list(batch_ids)
            rule = Rule(f"r{next_number}", text, loop, sources)
            next_number += 1
            rules.append(rule)
            by_id[rule.id] = rule
            report.append(f"added {rule.id}")
        elif kind in ("edit", "remove") and rule_id not in by_id:
            report.append(f"ignored {kind} of unknown rule {rule_id!r}")
        elif kind == "edit" and text:
            by_id[rule_id].text = one_line(text)
            by_id[rule_id].sources = sorted(set(by_id[rule_id].sources) | set(op.get("sources", [])))
            report.append(f"edited {rule_id}")
        elif kind == "remove":
            rules.remove(by_id.pop(rule_id))
            report.append(f"removed {rule_id}")
        else:
            report.append(f"ignored {kind} of {rule_id!r} without text")
    for effect in effects:
        rule = by_id.get(str(effect.get("id")))
        if rule and effect.get("effect") in ("helped", "hurt"):
            setattr(rule, effect["effect"], getattr(rule, effect["effect"]) + 1)
    return report


def row_verdicts(row: dict) -> list[dict]:
    """A result row's `rule_verdicts` (a JSON list, as evaluate_results writes it; a list as is)."""
    value = row.get("rule_verdicts")
    if isinstance(value, list):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) and value.strip() else []
    except ValueError:
        return []
    return parsed if isinstance(parsed, list) else []


def count_verdicts(rules: list[Rule], rows: list[dict]) -> int:
    """Add the judge's verdicts of `rows` to the counters of `rules` (see the module); return how many
    were counted. A verdict counts to the rule of its id: the id the judge was shown the rule with
    (`rules_of` the ruleset the rows ran), so `rules` must carry those ids; a verdict on another id is
    left out."""
    by_id = {rule.id: rule for rule in rules}
    judged, counted = set(), 0
    for row in rows:
        result = row.get("pass_or_fail")
        for verdict in row_verdicts(row):
            rule = by_id.get(str(verdict.get("id")))
            counter = COUNTERS.get((verdict.get("verdict"), result))
            if rule is None or counter is None:
                continue
            setattr(rule, counter, getattr(rule, counter) + 1)
            judged.add(rule.id)
            counted += 1
    for rule in rules:
        rule.judged_loops += rule.id in judged
    return counted


def drop_unhelpful(rules: list[Rule], after: int | None) -> list[str]:
    """Remove, in place, every rule judged in at least `after` loops that never helped (None: keep all);
    return a report line per rule removed."""
    if not after:
        return []
    dropped = [r for r in rules if r.judged_loops >= after and r.helped == 0]
    for rule in dropped:
        rules.remove(rule)
    return [f"dropped {r.id}: never helped in {r.judged_loops} judged loop(s) ({r.record()})" for r in dropped]


def words(text: str) -> set[str]:
    """A rule's normalized words: lower case, crudely stemmed, without stop words."""
    found = set()
    for word in re.findall(r"[a-z0-9_]+", text.lower()):
        if word in STOP_WORDS:
            continue
        found.add(re.sub(r"(ing|ed|es|s)$", "", word) if len(word) > 4 else word)
    return found


def similarity(a: str, b: str) -> float:
    """The Jaccard index of two rules' normalized words (1.0: the same words)."""
    wa, wb = words(a), words(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def merge_near_duplicates(rules: list[Rule], threshold: float = 0.75) -> list[str]:
    """Merge, in place, each rule into an earlier one whose words it shares at `threshold` or more (its
    counters and sources added to the earlier rule, whose text stays); return a report line per merge."""
    report = []
    for rule in list(rules):
        earlier = next((r for r in rules[: rules.index(rule)] if similarity(r.text, rule.text) >= threshold), None)
        if earlier is None:
            continue
        for counter in ("helped", "hurt", "broken_failed", "broken_passed", "not_applicable"):
            setattr(earlier, counter, getattr(earlier, counter) + getattr(rule, counter))
        earlier.judged_loops = max(earlier.judged_loops, rule.judged_loops)
        earlier.sources = sorted(set(earlier.sources) | set(rule.sources))
        rules.remove(rule)
        report.append(f"merged {rule.id} into {earlier.id} (word overlap {similarity(earlier.text, rule.text):.2f})")
    return report


def ruleset_tokens(ruleset: str, model: str = "gpt-4.1") -> int:
    """The ruleset's length in tokens (tiktoken's count for `model`; o200k_base for models it does not know)."""
    return count_tokens(ruleset or "", model)


def fit_rules(rules: list[Rule], max_tokens: int | None, max_chars: int | None, model: str) -> list[str]:
    """Remove, in place, rules until the rendered ruleset fits both caps: first those that helped least,
    then those that hurt most, the newest first among equals; return a report line per rule removed."""
    report = []

    def over() -> bool:
        text = render_rules(rules)
        return bool(rules) and (
            (max_chars is not None and len(text) > max_chars)
            or (max_tokens is not None and ruleset_tokens(text, model) > max_tokens)
        )

    while over():
        order = sorted(rules, key=lambda r: (r.helped, -r.hurt, -rules.index(r)))
        rules.remove(order[0])
        report.append(
            f"dropped {order[0].id}: the ruleset was over its cap ({max_tokens} tokens, {max_chars} characters)"
        )
    return report


def cap_lines(text: str, max_tokens: int | None, max_chars: int | None, model: str) -> str:
    """The whole lines of `text` that fit both caps, from the top (a rewrite over its cap)."""
    kept = ""
    for line in text.splitlines(keepends=True):
        longer = kept + line
        if (max_chars is not None and len(longer) > max_chars) or (
            max_tokens is not None and ruleset_tokens(longer, model) > max_tokens
        ):
            break
        kept = longer
    return kept


def tried_section(tried: list[tuple[str, str]]) -> str:
    """The meta-prompt's section on rulesets already grown from the current one: (ruleset, how it did)."""
    if not tried:
        return ""
    parts = [f"### {note}\n{ruleset.strip() or '(empty)'}" for ruleset, note in tried]
    heading = "## Rulesets already grown from this one, and how they did (write a different, better one)"
    return "\n\n" + heading + "\n" + "\n\n".join(parts)


def find_leaks(ruleset: str, train: pd.DataFrame) -> pd.DataFrame:
    """Rules that name something of one training task. Such rules do not generalize:
    - the task itself ("instance"): its instance id, its pull request (`#4045` of `pallets__flask-4045`), the
      commit a mined task was made from (`mined_from`, 7 hex digits or more);
    - a test of its FAIL_TO_PASS ("test"), by the test's own name;
    - its repository ("repository"), when the training tasks come from more than one (rules learned for one's
      own repository may name it);
    - a file its gold patch touches ("file"), or an identifier that appears in only one training task's gold
      patch ("identifier").

    Returns one row per finding: rule, instance_id, kind, term.
    """
    terms: dict[str, list[tuple[str, str]]] = {}
    identifier_owners: dict[str, set[str]] = {}
    rows = train.to_dict("records")
    several_repos = len({str(row.get("repo", "")) for row in rows}) > 1
    for row in rows:
        iid = row["instance_id"]
        for term, kind in _task_terms(row, several_repos):
            terms.setdefault(term, []).append((iid, kind))
        changed = "\n".join(line for line in str(row.get("patch") or "").splitlines() if line[:1] in "+-@ ")
        for name in set(re.findall(r"\b(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]{3,})", changed)) | set(
            re.findall(r"\b([a-z]+_[a-z0-9_]+|[A-Z][a-z]+[A-Z][A-Za-z0-9]+)\b", changed)
        ):
            identifier_owners.setdefault(name, set()).add(iid)
    for name, owners in identifier_owners.items():
        if len(owners) == 1:
            terms.setdefault(name, []).append((next(iter(owners)), "identifier"))
    commits = {str(row["mined_from"]): row["instance_id"] for row in rows if isinstance(row.get("mined_from"), str)}
    findings = []
    for rule in parse_rules(ruleset):
        for term, owners in terms.items():
            if re.search(rf"(?<![\w/.]){re.escape(term)}(?![\w/])", rule.text):
                for iid, kind in owners:
                    findings.append({"rule": rule.text, "instance_id": iid, "kind": kind, "term": term})
        for token in re.findall(r"\b[0-9a-f]{7,40}\b", rule.text):
            for commit, iid in commits.items():
                if commit.startswith(token):
                    findings.append({"rule": rule.text, "instance_id": iid, "kind": "instance", "term": token})
    return pd.DataFrame(findings, columns=["rule", "instance_id", "kind", "term"]).drop_duplicates()


def _task_terms(row: dict, several_repos: bool) -> list[tuple[str, str]]:
    """The terms that name one task: (term, kind)."""
    iid, repo = str(row["instance_id"]), str(row.get("repo", ""))
    found = [(iid, "instance")]
    number = re.search(r"-(\d+)$", iid)
    if number:
        found.append((f"#{number.group(1)}", "instance"))
    found += [(test_name(t), "test") for t in as_test_list(row.get("FAIL_TO_PASS")) if test_name(t)]
    if several_repos:
        found += [(term, "repository") for term in {repo, repo.split("/")[-1]} - {""}]
    for path in patched_files(row.get("patch") or ""):
        found += [(path, "file"), (Path(path).name, "file")]
    return found
