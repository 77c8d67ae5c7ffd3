"""Statistics for noisy agent benchmarks: confidence intervals and paired tests between rulesets."""

from __future__ import annotations

import math

import pandas as pd


def scored(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that are the agent's outcomes: infrastructure errors (`outcome` "error") are left out, so
    they never count as failures."""
    return df[df["outcome"] != "error"] if "outcome" in df.columns else df


def errors(df: pd.DataFrame) -> int:
    """How many rows are infrastructure errors."""
    return int((df["outcome"] == "error").sum()) if "outcome" in df.columns else 0


def pass_counts(df: pd.DataFrame) -> tuple[int, int, int]:
    """(passed, scored, infrastructure errors) of a table of rows: the counts every accuracy here is made of."""
    rows = scored(df)
    return int((rows["pass_or_fail"] == "pass").sum()), len(rows), errors(df)


def accuracy(df: pd.DataFrame) -> float:
    """The share of scored rows that pass (infrastructure errors are not counted: see `errors`); NaN when no
    row was scored (nothing is known, which is not 0). The one accuracy of a split: the history, the ruleset
    files, the selection of the best candidate and Phoenix all read it."""
    rows = scored(df)
    return float((rows["pass_or_fail"] == "pass").mean()) if len(rows) else math.nan


def pass_rates(df: pd.DataFrame) -> pd.Series:
    """Each instance's pass rate over its scored rows (attempts); instances with no scored row are absent."""
    rows = scored(df)
    return rows.groupby("instance_id")["pass_or_fail"].apply(lambda s: float((s == "pass").mean())).astype(float)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k successes out of n; (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the flip counts (b: pass→fail, c: fail→pass)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n attempts of which c passed: 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} attempts, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def per_instance(df: pd.DataFrame) -> pd.DataFrame:
    """Per instance: attempts, passes, pass rate and pass@k for k = 1 … attempts (scored rows only); no
    rows (a split whose runs all ended in infrastructure errors) when none was scored."""
    df = scored(df)
    grouped = df.groupby("instance_id")["pass_or_fail"]
    table = pd.DataFrame({"attempts": grouped.size(), "passes": grouped.apply(lambda s: int((s == "pass").sum()))})
    table = table.astype(int).rename_axis("instance_id")
    table["pass_rate"] = table["passes"] / table["attempts"]
    for k in range(1, int(table["attempts"].min()) + 1 if len(table) else 2):
        table[f"pass@{k}"] = [pass_at_k(n, c, k) for n, c in zip(table["attempts"], table["passes"], strict=True)]
    return table.reset_index()


def compare(before: pd.DataFrame, after: pd.DataFrame, alpha: float = 0.05) -> dict:
    """Paired comparison of two rulesets on the instances scored in both (an instance scored in only one is
    left out of both): instances whose pass rate rose (c) and fell (b), the exact two-sided p-value
    (McNemar's exact test; with several attempts, the sign test on per-instance pass rates, which is the
    same computation), and each one's mean pass rate over those instances (NaN when there are none)."""
    paired = pd.DataFrame({"before": pass_rates(before), "after": pass_rates(after)}).dropna()
    changed = flips(before, after)
    b, c = int((changed["direction"] == "broken").sum()), int((changed["direction"] == "fixed").sum())
    p = mcnemar_exact(b, c)
    return {
        "instances": len(paired),
        "fixed": c,
        "broken": b,
        "p_value": p,
        "significant": p < alpha,
        "accuracy_before": float(paired["before"].mean()) if len(paired) else math.nan,
        "accuracy_after": float(paired["after"].mean()) if len(paired) else math.nan,
    }


def flips(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Instances scored in both runs whose pass rate (over attempts) changed, with the direction."""
    both = pd.DataFrame({"before": pass_rates(before), "after": pass_rates(after)}).dropna()
    changed = both[both["before"] != both["after"]].rename_axis("instance_id").copy()
    changed["direction"] = [
        "fixed" if a > b else "broken" for b, a in zip(changed["before"], changed["after"], strict=True)
    ]
    return changed.reset_index()


def accuracy_table(results: dict[int, dict[str, pd.DataFrame]], confidence: float = 0.95) -> pd.DataFrame:
    """One row per loop and split: passes k of n scored rows, accuracy and its Wilson interval (low, high),
    and the infrastructure errors left out of n."""
    columns = ["loop", "split", "k", "n", "accuracy", "low", "high", "errors"]
    rows = []
    for loop, splits in sorted(results.items()):
        for split, df in splits.items():
            k, n, failed = pass_counts(df)
            low, high = wilson_interval(k, n, confidence)
            values = [loop, split, k, n, k / n if n else math.nan, low, high, failed]
            rows.append(dict(zip(columns, values, strict=True)))
    return pd.DataFrame(rows, columns=columns)
