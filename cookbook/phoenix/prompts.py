"""A run's rulesets as versions of one Phoenix Prompt, each beside the scores it earned.

One Prompt per run (named after the run, made to fit Phoenix's rule for prompt names), one version per
loop: the agent's base prompt followed by the ruleset that loop ran, tagged `loop-<n>`, described by the
scores that ruleset earned on each split (accuracy over scored rows with its Wilson interval, and the
infrastructure errors beside it), by the verdict of `select_best` at that moment, and by the selection
policy's choice in that loop (the candidate the next ruleset grows from, and every candidate's score).
The tag `best` follows the loop `select_best` picks. Phoenix's versions page then shows how the ruleset
changed, loop by loop. The ruleset the last loop learned — the one the run hands over — is a version too,
tagged `learned`, described as not yet scored (no loop has run it); if the run goes on, the loop that runs
it logs it again, with its scores.

A version is found again by its loop and the digest of its text, so logging a loop twice adds nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import httpx
import pandas as pd

from cookbook.loop.selection import select_best
from cookbook.phoenix.scores import SplitScore

NAME_RULE = re.compile(r"^[a-z0-9]([_a-z0-9-]*[a-z0-9])?$")  # Phoenix's rule for prompt and tag names
EMPTY_RULESET = "(empty: no rules yet)"
SPLIT_ORDER = ("test", "validation", "train")  # in descriptions: the held-out score first


def prompt_name(run_name: str) -> str:
    """The run's Prompt name: lower case, runs of other characters as one "-", alphanumeric at both ends."""
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9_-]+", "-", run_name.lower())).strip("-_")
    return name or "ruleset"


def prompt_text(base_prompt: str, ruleset: str) -> str:
    """The version's text: the agent's base prompt, then the ruleset (the same heading every loop, so
    Phoenix's comparison of two versions shows only what the ruleset changed)."""
    return f"{base_prompt.strip()}\n\n# Ruleset\n{ruleset.strip() or EMPTY_RULESET}\n"


def selection(
    history: pd.DataFrame, loop: int, accuracies: dict[str, float], choice: dict | None = None
) -> tuple[int, str, str]:
    """(best loop, the split it is chosen on, a verdict on `loop`) by `select_best` over the loops in
    `history` and this loop with `accuracies` ({split: accuracy}); with the selection policy's `choice` in
    this loop (`Choice.as_dict()`), the verdict says which candidate the next ruleset grows from."""
    rows = [r for r in history.to_dict("records") if r.get("loop") != loop] if len(history) else []
    frame = pd.DataFrame([*rows, {"loop": loop, **{f"{s}_accuracy": a for s, a in accuracies.items()}}])
    best = select_best(frame)
    on = "validation" if "validation_accuracy" in frame and frame["validation_accuracy"].notna().any() else "train"
    verdict = f"best so far on {on}" if best == loop else f"not selected: loop {best} stays best on {on}"
    if choice:
        scores = ", ".join(f"loop {k} {v:.3f}" for k, v in choice["candidate_scores"].items())
        verdict += (
            f"; selection {choice['selection']} on {choice['selected_on']}: the next ruleset grows from loop "
            f"{choice['grown_from']} (candidates: {scores})"
        )
    return best, on, verdict


@dataclass
class RulesetVersion:
    """What one loop's version holds. `provider` is Phoenix's name for the model's API (OPENAI,
    ANTHROPIC); `ruleset_sha` is the one on the loop's result rows, which links experiments to it."""

    run_name: str
    loop: int
    base_prompt: str
    ruleset: str
    model: str
    provider: str
    scores: dict[str, SplitScore]
    best_loop: int
    chosen_on: str
    verdict: str
    ruleset_sha: str = ""
    selection: dict = field(default_factory=dict)  # the policy's choice in this loop (Choice.as_dict())
    learned: bool = False  # the ruleset learned by the loop before `loop`, which no loop has run: no scores

    @property
    def text(self) -> str:
        return prompt_text(self.base_prompt, self.ruleset)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def description(self) -> str:
        if self.learned:
            return f"learned in loop {self.loop - 1}, not yet scored (no loop has run it): {self.verdict}."
        held_out_first = sorted(self.scores.items(), key=lambda item: SPLIT_ORDER.index(item[0]))
        scores = "; ".join(f"{split} {score.text()}" for split, score in held_out_first)
        empty = "" if self.ruleset.strip() else " (the empty ruleset)"
        return f"loop {self.loop}{empty}: {scores}; {self.verdict}."

    def metadata(self) -> dict:
        return {
            "run_name": self.run_name,
            "loop": self.loop,
            "ruleset_sha": self.ruleset_sha,
            "text_digest": self.digest,
            "scores": {split: score.as_dict() for split, score in self.scores.items()},
            "verdict": self.verdict,
            "best_loop": self.best_loop,
            "chosen_on": self.chosen_on,
            "selection": self.selection,
            "learned": self.learned,
        }

    def body(self) -> dict:
        """The REST body that creates this version (and the Prompt, if it is new)."""
        anthropic = self.provider == "ANTHROPIC"
        return {
            "prompt": {
                "name": prompt_name(self.run_name),
                "description": f"Rulesets of run {self.run_name}: one version per loop, with the scores it earned",
            },
            "version": {
                "description": self.description(),
                "metadata": self.metadata(),
                "model_provider": self.provider,
                "model_name": self.model or "unknown",
                "template": {"type": "chat", "messages": [{"role": "system", "content": self.text}]},
                "template_type": "CHAT",
                "template_format": "NONE",  # the ruleset is literal text, not a template
                "invocation_parameters": {"type": "anthropic", "anthropic": {"max_tokens": 1000}}
                if anthropic
                else {"type": "openai", "openai": {}},
            },
        }


def list_versions(http: httpx.Client, name: str) -> list[dict]:
    """The Prompt's versions, newest first; [] when there is no Prompt of that name."""
    found, cursor = [], None
    while True:
        reply = http.get(f"v1/prompts/{name}/versions", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        if reply.status_code == 404:
            return []
        reply.raise_for_status()
        body = reply.json()
        found.extend(body["data"])
        cursor = body.get("next_cursor")
        if not cursor:
            return found


def find_version(
    versions: list[dict], loop: int, digest: str | None = None, sha: str | None = None, learned: bool = False
) -> dict | None:
    """The newest version of `loop` (with that text digest / ruleset sha, when given): one the loop ran and
    scored, or (`learned`) the learned one it would run."""
    for version in versions:
        meta = version.get("metadata") or {}
        if meta.get("loop") != loop or bool(meta.get("learned")) != learned:
            continue
        if (digest and meta.get("text_digest") != digest) or (sha and meta.get("ruleset_sha") not in ("", sha)):
            continue
        return version
    return None


def tag(http: httpx.Client, version_id: str, name: str, description: str) -> None:
    """Put the tag on that version (a Prompt's tag names are unique: the tag moves there)."""
    reply = http.post(f"v1/prompt_versions/{version_id}/tags", json={"name": name, "description": description})
    reply.raise_for_status()


def log_version(http: httpx.Client, version: RulesetVersion) -> tuple[dict, bool]:
    """The loop's version (created now unless it exists) and whether it is new; tags it `loop-<n>` and
    moves `best` to the best loop's version (a learned version: tags it `learned`)."""
    name = prompt_name(version.run_name)
    versions = list_versions(http, name)
    existing = find_version(versions, version.loop, digest=version.digest, learned=version.learned)
    created = existing is None
    if created:
        reply = http.post("v1/prompts", json=version.body())
        reply.raise_for_status()
        existing = reply.json()["data"]
        versions = [existing, *versions]
    if version.learned:
        tag(http, existing["id"], "learned", f"learned in loop {version.loop - 1}: what the run hands over, unscored")
        return existing, created
    tag(http, existing["id"], f"loop-{version.loop}", f"the ruleset loop {version.loop} ran")
    best = existing if version.best_loop == version.loop else find_version(versions, version.best_loop)
    if best is not None:
        tag(http, best["id"], "best", f"best so far on {version.chosen_on} (selection after loop {version.loop})")
    return existing, created


def prompt_id(http: httpx.Client, name: str) -> str | None:
    """The id of the Prompt of that name, or None."""
    cursor = None
    while True:
        reply = http.get("v1/prompts", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        reply.raise_for_status()
        body = reply.json()
        match = next((p["id"] for p in body["data"] if p["name"] == name), None)
        cursor = body.get("next_cursor")
        if match or not cursor:
            return match


def versions_url(base_url: str, prompt: str, version_id: str | None = None) -> str:
    """Phoenix's page of a Prompt's versions (of one version, when given)."""
    url = f"{base_url.rstrip('/')}/prompts/{prompt}/versions"
    return f"{url}/{version_id}" if version_id else url


def linked_version(http: httpx.Client, url: str, meta: dict) -> dict | None:
    """The Prompt version of the ruleset these results ran: `meta["prompt_version_id"]`, else the version
    of the run's Prompt for `meta["loop"]` with the same ruleset sha; None when there is none."""
    if "run_name" not in meta or "loop" not in meta:
        return None
    name = prompt_name(str(meta["run_name"]))
    versions = list_versions(http, name)
    wanted = meta.get("prompt_version_id")
    version = next((v for v in versions if v["id"] == wanted), None) if wanted else None
    version = version or find_version(versions, int(meta["loop"]), sha=str(meta.get("ruleset_sha") or "") or None)
    if version is None:
        return None
    link = versions_url(url, prompt_id(http, name), version["id"])
    return {"id": version["id"], "prompt": name, "loop": version["metadata"]["loop"], "url": link}


def tag_exported(http: httpx.Client, run_name: str, loop: int, description: str) -> dict | None:
    """Tag `exported` the version of the run's Prompt that holds the ruleset loop `loop` ran (the tag moves
    there from an earlier export); None when the Prompt has no such version (the run logged no Phoenix)."""
    version = find_version(list_versions(http, prompt_name(run_name)), loop)
    if version is not None:
        tag(http, version["id"], "exported", description)
    return version
