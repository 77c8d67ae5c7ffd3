import math

import pandas as pd
import pytest

from cookbook.stats import (
    accuracy,
    accuracy_table,
    compare,
    flips,
    mcnemar_exact,
    pass_at_k,
    per_instance,
    wilson_interval,
)


def test_wilson_interval_known_values():
    # reference values (Wilson score interval, z = 1.959964)
    assert wilson_interval(8, 10) == pytest.approx((0.4901625, 0.9433178), abs=1e-6)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775328), abs=1e-6)
    assert wilson_interval(10, 10) == pytest.approx((0.7224672, 1.0), abs=1e-6)
    assert wilson_interval(45, 150) == pytest.approx((0.232408, 0.377580), abs=1e-5)  # worked by hand
    low, high = wilson_interval(45, 150, confidence=0.99)
    assert low < 0.232408 and high > 0.377580
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_mcnemar_exact_known_values():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)  # 2 * (C(10,0) + C(10,1)) / 2^10
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact(3, 12) == pytest.approx(2 * sum(math.comb(15, i) for i in range(4)) / 2**15)
    assert mcnemar_exact(2, 8) == mcnemar_exact(8, 2)


def test_pass_at_k():
    assert pass_at_k(3, 0, 1) == 0.0 and pass_at_k(3, 3, 1) == 1.0
    assert pass_at_k(3, 1, 1) == pytest.approx(1 / 3)
    assert pass_at_k(3, 1, 3) == 1.0
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(5, 2))
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def rows(outcomes: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"instance_id": i, "attempt": a, "pass_or_fail": o} for i, os_ in outcomes.items() for a, o in enumerate(os_)]
    )


def test_per_instance_rates_flips_and_the_paired_test():
    before = rows({"a": ["fail", "fail", "pass"], "b": ["pass"] * 3, "c": ["fail"] * 3})
    after = rows({"a": ["pass", "pass", "pass"], "b": ["pass", "fail", "pass"], "c": ["fail"] * 3})
    table = per_instance(before).set_index("instance_id")
    assert table.loc["a", "pass_rate"] == pytest.approx(1 / 3) and table.loc["a", "pass@3"] == 1.0
    changed = flips(before, after).set_index("instance_id")
    assert changed.loc["a", "direction"] == "fixed" and changed.loc["b", "direction"] == "broken"
    result = compare(before, after)
    assert (result["fixed"], result["broken"], result["p_value"], result["significant"]) == (1, 1, 1.0, False)


def test_accuracy_table():
    table = accuracy_table({0: {"train": rows({"a": ["pass"], "b": ["fail"]}), "test": rows({"c": ["fail"]})}})
    assert table[["loop", "split", "k", "n", "accuracy"]].values.tolist() == [
        [0, "train", 1, 2, 0.5],
        [0, "test", 0, 1, 0.0],
    ]


def test_a_split_with_no_scored_row_is_unknown_not_zero_and_never_crashes_the_tables():
    """Every run of the split ended in an infrastructure error: nothing is known (NaN), not 0, and the
    tables the loop writes after paying for its runs still come out."""
    errors = pd.DataFrame([{"instance_id": i, "attempt": 0, "pass_or_fail": "", "outcome": "error"} for i in "ab"])
    assert math.isnan(accuracy(errors))
    assert per_instance(errors).empty and list(per_instance(errors).columns)[:4] == [
        "instance_id",
        "attempts",
        "passes",
        "pass_rate",
    ]
    table = accuracy_table({0: {"test": errors}})
    assert table[["k", "n", "errors"]].values.tolist() == [[0, 0, 2]] and math.isnan(table["accuracy"][0])
    result = compare(errors, rows({"a": ["pass"], "b": ["fail"]}))
    assert (result["instances"], result["fixed"], result["broken"]) == (0, 0, 0)
    assert math.isnan(result["accuracy_before"]) and math.isnan(result["accuracy_after"])


def test_the_paired_test_compares_only_instances_scored_in_both():
    before = rows({"a": ["pass"], "b": ["fail"], "c": ["pass"]})
    after = rows({"a": ["pass"], "b": ["pass"], "d": ["fail"]})  # c not run after, d not before
    result = compare(before, after)
    assert (result["instances"], result["fixed"], result["broken"]) == (2, 1, 0)
    assert (result["accuracy_before"], result["accuracy_after"]) == (0.5, 1.0)  # over a and b, both times
