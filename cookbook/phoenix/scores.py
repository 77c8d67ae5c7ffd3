"""A split's numbers as Phoenix shows them: accuracy over scored rows with its Wilson interval and the
infrastructure-error count beside it, and the tokens and cost that produced them.

A row is scored when `pass_or_fail` is "pass" or "fail" (the agent's outcome); an infrastructure error
("" — not scored) is counted apart, never as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cookbook.stats import pass_counts, wilson_interval


@dataclass(frozen=True)
class SplitScore:
    """k of n scored rows pass, the 95% Wilson interval of k/n, and the rows not scored (errors)."""

    passed: int
    scored: int
    errors: int
    low: float
    high: float

    @property
    def accuracy(self) -> float | None:
        return self.passed / self.scored if self.scored else None

    def text(self) -> str:
        """E.g. "4/6 = 0.67 [0.30, 0.90], 1 infrastructure error"."""
        errors = f"{self.errors} infrastructure error{'' if self.errors == 1 else 's'}"
        if not self.scored:
            return f"no scored rows, {errors}"
        return f"{self.passed}/{self.scored} = {self.accuracy:.2f} [{self.low:.2f}, {self.high:.2f}], {errors}"

    def as_dict(self) -> dict:
        return {
            "accuracy": None if self.accuracy is None else round(self.accuracy, 4),
            "accuracy_low": round(self.low, 4),
            "accuracy_high": round(self.high, 4),
            "passed": self.passed,
            "scored": self.scored,
            "infrastructure_errors": self.errors,
        }


def split_score(df: pd.DataFrame) -> SplitScore:
    passed, scored, errors = pass_counts(df) if "pass_or_fail" in df else (0, 0, len(df))
    low, high = wilson_interval(passed, scored)
    return SplitScore(passed, scored, errors, low, high)


def _total(df: pd.DataFrame, column: str) -> float:
    return float(pd.to_numeric(df[column], errors="coerce").fillna(0).sum()) if column in df else 0.0


def usage(df: pd.DataFrame) -> dict:
    """The split's agent tokens and cost (None when no row has a price: the tokens are the measure),
    and the judge's."""
    prompt, completion = int(_total(df, "prompt_tokens")), int(_total(df, "completion_tokens"))
    priced = pd.to_numeric(df["cost_usd"], errors="coerce").notna().any() if "cost_usd" in df else False
    judge_tokens = int(_total(df, "judge_prompt_tokens") + _total(df, "judge_completion_tokens"))
    return {
        "agent_prompt_tokens": prompt,
        "agent_completion_tokens": completion,
        "agent_total_tokens": prompt + completion,
        "agent_cost_usd": round(_total(df, "cost_usd"), 6) if priced else None,
        "judge_tokens": judge_tokens,
        "judge_cost_usd": round(_total(df, "judge_cost_usd"), 6) if judge_tokens else None,
    }
