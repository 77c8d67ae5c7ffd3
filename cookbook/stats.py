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


def accuracy(df: pd.DataFrame) -> float:
    """The share of scored rows that pass (infrastructure errors are not counted: see `errors`)."""
    rows = scored(df)
    return float((rows["pass_or_fail"] == "pass").mean()) if len(rows) else 0.0


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
    """Per instance: attempts, passes, pass rate and pass@k for k = 1 … attempts (scored rows only)."""
    df = scored(df)
    grouped = df.groupby("instance_id")["pass_or_fail"]
    table = pd.DataFrame({"attempts": grouped.size(), "passes": grouped.apply(lambda s: int((s == "pass").sum()))})
    table["pass_rate"] = table["passes"] / table["attempts"]
    for k in range(1, int(table["attempts"].min()) + 1):
        table[f"pass@{k}"] = [pass_at_k(n, c, k) for n, c in zip(table["attempts"], table["passes"], strict=True)]
    return table.reset_index()


def compare(before: pd.DataFrame, after: pd.DataFrame, alpha: float = 0.05) -> dict:
    """Paired comparison of two rulesets on the same instances: instances whose pass rate rose (c) and
    fell (b), and the exact two-sided p-value (McNemar's exact test; with several attempts, the sign
    test on per-instance pass rates, which is the same computation)."""
    changed = flips(before, after)
    b, c = int((changed["direction"] == "broken").sum()), int((changed["direction"] == "fixed").sum())
    p = mcnemar_exact(b, c)
    both = set(before["instance_id"]) & set(after["instance_id"])
    return {
        "instances": len(both),
        "fixed": c,
        "broken": b,
        "p_value": p,
        "significant": p < alpha,
        "accuracy_before": float(per_instance(before)["pass_rate"].mean()),
        "accuracy_after": float(per_instance(after)["pass_rate"].mean()),
    }


def flips(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Instances whose pass_or_fail changed between two runs on the same instances (per-instance pass
    rate over attempts), with the direction."""
    rate_a = scored(before).groupby("instance_id")["pass_or_fail"].apply(lambda s: (s == "pass").mean())
    rate_b = scored(after).groupby("instance_id")["pass_or_fail"].apply(lambda s: (s == "pass").mean())
    both = pd.DataFrame({"before": rate_a, "after": rate_b}).dropna()
    changed = both[both["before"] != both["after"]].copy()
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
            k, n = int((scored(df)["pass_or_fail"] == "pass").sum()), len(scored(df))
            low, high = wilson_interval(k, n, confidence)
            values = [loop, split, k, n, k / n if n else 0.0, low, high, errors(df)]
            rows.append(dict(zip(columns, values, strict=True)))
    return pd.DataFrame(rows, columns=columns)
