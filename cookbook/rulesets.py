"""Rulesets as lists of rules: ids, provenance and counters (the optimizer's delta mode), and the check
for rules that name one training task (a leak: such a rule does not generalize)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cookbook.harnesses.grading import patched_files

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
    id: str
    text: str
    loop: int | None = None
    sources: list[str] = field(default_factory=list)
    helped: int = 0
    hurt: int = 0


def render_rules(rules: list[Rule]) -> str:
    """The plain-text ruleset the agent reads."""
    return "".join(f"- {rule.text}\n" for rule in rules)


def parse_rules(text: str, loop: int | None = None) -> list[Rule]:
    """A plain-text ruleset as rules (one per bullet or non-empty line), ids r1, r2, …"""
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in (text or "").splitlines()]
    return [Rule(f"r{i}", line, loop) for i, line in enumerate((line for line in lines if line), start=1)]


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
            by_id[rule_id].text = text
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


def find_leaks(ruleset: str, train: pd.DataFrame) -> pd.DataFrame:
    """Rules that name something of one training task: its repository, a file its gold patch touches,
    or an identifier that appears in only one training task's gold patch. Such rules do not generalize.

    Returns one row per finding: rule, instance_id, kind ("repository" / "file" / "identifier"), term.
    """
    terms: dict[str, list[tuple[str, str]]] = {}
    identifier_owners: dict[str, set[str]] = {}
    for row in train.to_dict("records"):
        iid = row["instance_id"]
        repo = str(row.get("repo", ""))
        for term in {repo, repo.split("/")[-1]} - {""}:
            terms.setdefault(term, []).append((iid, "repository"))
        for path in patched_files(row.get("patch") or ""):
            terms.setdefault(path, []).append((iid, "file"))
            terms.setdefault(Path(path).name, []).append((iid, "file"))
        changed = "\n".join(line for line in str(row.get("patch") or "").splitlines() if line[:1] in "+-@ ")
        for name in set(re.findall(r"\b(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]{3,})", changed)) | set(
            re.findall(r"\b([a-z]+_[a-z0-9_]+|[A-Z][a-z]+[A-Z][A-Za-z0-9]+)\b", changed)
        ):
            identifier_owners.setdefault(name, set()).add(iid)
    for name, owners in identifier_owners.items():
        if len(owners) == 1:
            terms.setdefault(name, []).append((next(iter(owners)), "identifier"))
    findings = []
    for rule in parse_rules(ruleset):
        for term, owners in terms.items():
            if re.search(rf"(?<![\w/.]){re.escape(term)}(?![\w/])", rule.text):
                for iid, kind in owners:
                    findings.append({"rule": rule.text, "instance_id": iid, "kind": kind, "term": term})
    return pd.DataFrame(findings, columns=["rule", "instance_id", "kind", "term"]).drop_duplicates()
