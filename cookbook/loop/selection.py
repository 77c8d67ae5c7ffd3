"""Selection between loops: which loop is best, and which candidate the next ruleset grows from.

"Best" is defined once (`best_loop`): the highest accuracy (`cookbook.stats.accuracy`: the share of scored
runs that pass) on validation when there is one, else train, never test; ties go to the earlier loop, and a
loop with no scored run is never best while another has one. `select_best` applies it to the history (the
report, Phoenix's `best` tag, early stopping: `cookbook.loop.stopping.Patience`), the `Best` policy to the
candidates: the same numbers.

A *selection policy* picks the candidate the next ruleset grows from. A **candidate** is a ruleset some
loop ran, with that loop's results: loop N runs candidate N (the ruleset learned in loop N-1; loop 0: the
empty one), so loop N's results — and the accuracies in loop N's history row — are candidate N's scores.
The ruleset *learned* in loop N has no score yet: it becomes candidate N+1 when loop N+1 runs it. So in
loop N, after its runs are scored and judged, the policy chooses among candidates 0…N, and the optimizer
rewrites the chosen one from that candidate's own judged training runs:

- `Latest` — candidate N, the ruleset just run (the cookbook's behaviour: every rewrite is accepted);
- `Best` — the best accuracy on validation (on train when there is no validation split; never test),
  ties to the earlier loop: a loop never grows from a ruleset that did worse than one it already had;
- `Pareto` — GEPA's: for each instance, the candidates with its best pass rate form its front; candidates
  dominated by others (on every front they are on, another remaining candidate is too) are removed, the
  lowest-scoring first; one is drawn with a weight of how many fronts it is on, by a generator seeded
  with the run's seed and the loop, so the draw is the same when the loop is run again.

(The selection policies and the stop rules were one module, `loop/rules.py`: the stop rules are
`cookbook.loop.stopping`.)
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from cookbook.stats import accuracy, pass_rates


def best_loop(scores: dict[int, float]) -> int:
    """The loop with the highest score; ties go to the earlier loop; a NaN score (no scored run) is never
    best while another loop has a score, and when none has one, the latest loop is (nothing to choose on)."""
    known = {loop: score for loop, score in scores.items() if not math.isnan(score)}
    if not known:
        return max(scores)
    return min(known, key=lambda loop: (-known[loop], loop))


def select_best(history: pd.DataFrame) -> int:
    """The loop whose ruleset is best on validation (on train when there is no validation split), never
    on test (`best_loop` over the history's accuracies)."""
    column = (
        "validation_accuracy"
        if "validation_accuracy" in history and history["validation_accuracy"].notna().any()
        else "train_accuracy"
    )
    return best_loop({int(loop): float(score) for loop, score in zip(history["loop"], history[column], strict=True)})


@dataclass
class Candidate:
    """A ruleset a loop ran, with that loop's results per split (the loop that runs a candidate scores it)."""

    loop: int
    ruleset: str
    results: dict[str, pd.DataFrame]

    @property
    def train(self) -> pd.DataFrame:
        """Its judged training runs: what the optimizer learns from when it grows the next ruleset from it."""
        return self.results["train"]

    def rates(self, split: str) -> pd.Series:
        """Pass rate per instance on `split` (scored runs only: infrastructure errors are left out)."""
        df = self.results.get(split)
        return pass_rates(df) if df is not None and len(df) else pd.Series(dtype=float)

    def accuracy(self, split: str) -> float:
        """Its accuracy on `split` as the history records it (`cookbook.stats.accuracy`); NaN: nothing scored."""
        df = self.results.get(split)
        return accuracy(df) if df is not None else math.nan


def selection_split(candidates: list[Candidate]) -> str:
    """The split candidates are chosen on: validation when they have one, else train (never test)."""
    return "validation" if any(len(c.rates("validation")) for c in candidates) else "train"


@dataclass
class Choice:
    """What a selection policy chose in a loop: the candidate the next ruleset grows from (`parent`, by the
    loop that ran it), the split it was chosen on, every candidate's accuracy there, and (pareto) on how
    many instances' fronts each candidate is."""

    policy: str
    loop: int
    parent: int
    on: str
    scores: dict[int, float]
    front: dict[int, int] = field(default_factory=dict)

    def text(self) -> str:
        scores = ", ".join(f"loop {k} {v:.3f}" for k, v in self.scores.items())
        front = f"; front: {', '.join(f'loop {k} on {n}' for k, n in self.front.items())}" if self.front else ""
        return f"selection {self.policy} on {self.on}: the next ruleset grows from loop {self.parent} ({scores}{front})"

    def as_dict(self) -> dict:
        return {"selection": self.policy, "grown_from": self.parent, "selected_on": self.on} | {
            "candidate_scores": {str(k): v for k, v in self.scores.items()},
            "front": {str(k): n for k, n in self.front.items()},
        }


class SelectionPolicy(Protocol):
    name: str

    def __call__(self, candidates: list[Candidate], loop: int) -> Choice:
        """The candidate (of those run so far, in loop order) the ruleset learned in `loop` grows from."""
        ...


def _choice(policy: str, candidates: list[Candidate], loop: int, parent: int, front=None) -> Choice:
    on = selection_split(candidates)
    return Choice(policy, loop, parent, on, {c.loop: c.accuracy(on) for c in candidates}, front or {})


@dataclass
class Latest:
    """The ruleset just run (the cookbook's)."""

    name: str = "latest"

    def __call__(self, candidates: list[Candidate], loop: int) -> Choice:
        return _choice(self.name, candidates, loop, candidates[-1].loop)


@dataclass
class Best:
    """The best on validation, else train; ties to the earlier loop."""

    name: str = "best"

    def __call__(self, candidates: list[Candidate], loop: int) -> Choice:
        on = selection_split(candidates)
        return _choice(self.name, candidates, loop, best_loop({c.loop: c.accuracy(on) for c in candidates}))


def pareto_front(candidates: list[Candidate], split: str) -> dict[int, int]:
    """{candidate loop: number of instances on whose front it is}, after removing dominated candidates."""
    table = pd.DataFrame({c.loop: c.rates(split) for c in candidates})
    fronts = [set(row[row == row.max()].index) for _, row in table.iterrows() if row.notna().any()]
    counts = {loop: sum(loop in f for f in fronts) for loop in table.columns}
    remaining = [loop for loop in table.columns if counts[loop]]
    # lowest accuracy first, and the later loop first among equals: the earlier of two equals is kept
    for loop in sorted(remaining, key=lambda k: (table[k].mean(), -k)):
        others = set(remaining) - {loop}
        if all(f & others for f in fronts if loop in f):
            remaining.remove(loop)
    return {loop: sum(loop in f for f in fronts) for loop in remaining}


@dataclass
class Pareto:
    """GEPA's: a draw among the candidates best on at least one instance, weighted by how many (seeded)."""

    seed: int = 0
    name: str = "pareto"

    def __call__(self, candidates: list[Candidate], loop: int) -> Choice:
        split = selection_split(candidates)
        front = pareto_front(candidates, split)
        if not front:  # no scored instance at all: the ruleset just run
            return _choice(self.name, candidates, loop, candidates[-1].loop)
        draw = random.Random(f"{self.seed}:{loop}").choices(list(front), weights=list(front.values()))[0]
        return _choice(self.name, candidates, loop, int(draw), front)


def make_selection(name: str, seed: int = 0) -> SelectionPolicy:
    """The policy of that name: "latest", "best" or "pareto" (seeded with `seed`)."""
    policies = {"latest": Latest, "best": Best, "pareto": lambda: Pareto(seed)}
    if name not in policies:
        raise ValueError(f"selection must be one of {', '.join(policies)}, not {name!r}")
    return policies[name]()
