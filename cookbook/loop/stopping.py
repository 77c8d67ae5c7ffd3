"""Stop rules between loops, as small objects that combine (after gepa's `utils/stop_condition.py`).

A *stop rule* looks at the history of finished loops (one row per loop: accuracies, tokens, costs) and
returns a reason to stop before the next loop, or None. `AnyOf` stops at the first rule that does; `Budget`
stops before a loop whose estimated spend (the last loop's) would go over a budget of tokens or dollars;
`Patience` stops after loops that did not improve on the best one (`cookbook.loop.selection.select_best`:
"best" is defined once, there). `estimate_line` says what the next loop will probably cost.

(Stop rules and the selection policies were one module, `loop/rules.py`, a word the agent's rules —
`cookbook.rulesets` — use too.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from cookbook.loop.selection import select_best


def loop_tokens(row: dict) -> int:
    return int(row.get("agent_tokens", 0) + row.get("judge_tokens", 0) + row.get("optimizer_tokens", 0))


COST_COLUMNS = ("agent_cost_usd", "judge_cost_usd", "optimizer_cost_usd")


def known_sum(values) -> float | None:
    """The sum of the costs that are known; None when none is (a model with no price: a scripted one)."""
    known = [float(v) for v in values if v is not None and not pd.isna(v)]
    return sum(known) if known else None


def loop_cost_usd(row: dict) -> float:
    """The loop's known cost (a stage whose models have no price counts 0: a USD budget refuses such models)."""
    return known_sum(row.get(k) for k in COST_COLUMNS) or 0.0


def loops_without_improvement(history: pd.DataFrame) -> int:
    """How many finished loops came after the best one (by `select_best`)."""
    return int(history["loop"].max()) - select_best(history)


class StopRule(Protocol):
    def __call__(self, history: pd.DataFrame) -> str | None:
        """A reason to stop before the next loop, or None."""
        ...


@dataclass
class Budget:
    """Stop before a loop whose estimated spend (the last loop's) would take the total over `limit`, in
    `unit`: "tokens" or "usd"."""

    limit: float
    unit: str = "tokens"

    def _amount(self, value: float) -> str:
        return f"{value:,.0f} tokens" if self.unit == "tokens" else f"${value:.2f}"

    def __call__(self, history: pd.DataFrame) -> str | None:
        measure = loop_tokens if self.unit == "tokens" else loop_cost_usd
        rows = history.to_dict("records")
        if not rows:
            return None
        spent, estimate = sum(map(measure, rows)), measure(rows[-1])
        if spent + estimate <= self.limit:
            return None
        return (
            f"budget: {self._amount(spent)} spent, the next loop is estimated at {self._amount(estimate)}, "
            f"over the budget of {self._amount(self.limit)}"
        )


@dataclass
class Patience:
    """Stop when `loops` loops have passed without improving on the best (validation, else train)."""

    loops: int

    def __call__(self, history: pd.DataFrame) -> str | None:
        if len(history) and loops_without_improvement(history) >= self.loops:
            on = "validation" if history.get("validation_size", pd.Series([0])).fillna(0).max() else "train"
            return f"early stopping: no improvement on {on} for {self.loops} loop(s)"
        return None


@dataclass
class AnyOf:
    """Stop at the first rule that gives a reason."""

    rules: tuple[StopRule, ...] = ()

    def __call__(self, history: pd.DataFrame) -> str | None:
        return next((reason for rule in self.rules if (reason := rule(history))), None)


def estimate_line(loop: int, history: pd.DataFrame) -> str:
    """What the next loop will probably cost (the last loop's cost), and what was spent so far."""
    rows = history.to_dict("records")
    if not rows:
        return f"loop {loop}: no estimate yet (the first loop's cost is the estimate of the next)"
    priced = known_sum(row.get(k) for row in rows for k in COST_COLUMNS) is not None
    spent = sum(map(loop_cost_usd, rows))
    estimate, total = (f"${loop_cost_usd(rows[-1]):.2f}", f"${spent:.2f}") if priced else ("$n/a", "$n/a: no prices")
    return (
        f"loop {loop}: estimated cost ~{loop_tokens(rows[-1]):,} tokens, {estimate} "
        f"(spent so far {sum(map(loop_tokens, rows)):,} tokens, {total})"
    )
