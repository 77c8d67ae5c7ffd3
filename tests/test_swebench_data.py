import json

import pandas as pd
import pytest

from cookbook.data import REQUIRED_FIELDS, DatasetError, load_instances, split_instances, validate_instances


def _as_hf_rows(df):
    """The rows as the Hugging Face datasets store them: test lists as JSON strings."""
    rows = df.to_dict("records")
    for row in rows:
        row["FAIL_TO_PASS"] = json.dumps(row["FAIL_TO_PASS"])
        row["PASS_TO_PASS"] = json.dumps(row["PASS_TO_PASS"])
    return rows


def test_bundled_has_enough_tasks_over_packages(bundled):
    assert len(bundled) >= 12
    assert bundled["repo"].nunique() >= 3
    assert set(REQUIRED_FIELDS) <= set(bundled.columns)
    assert all(len(c) == 40 for c in bundled["base_commit"])


@pytest.mark.parametrize("suffix", ["json", "jsonl", "parquet"])
def test_each_file_format_loads_the_same_instances(bundled, tmp_path, suffix):
    rows = _as_hf_rows(bundled)
    path = tmp_path / f"tasks.{suffix}"
    if suffix == "json":
        path.write_text(json.dumps(rows))
    elif suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pd.DataFrame(rows).to_parquet(path)
    loaded = load_instances(str(path))
    assert loaded["instance_id"].tolist() == bundled["instance_id"].tolist()
    assert loaded["FAIL_TO_PASS"].tolist() == bundled["FAIL_TO_PASS"].tolist()
    assert loaded["PASS_TO_PASS"].tolist() == bundled["PASS_TO_PASS"].tolist()
    assert loaded["patch"].tolist() == bundled["patch"].tolist()


def test_bundled_works_as_a_name_with_instance_ids(bundled):
    some = bundled["instance_id"].tolist()[:2]
    assert load_instances("bundled", instance_ids=some)["instance_id"].tolist() == some
    with pytest.raises(DatasetError, match="no instance named nope"):
        load_instances("bundled", instance_ids=["nope"])


def test_a_row_without_a_field_is_named(bundled, tmp_path):
    rows = _as_hf_rows(bundled)
    del rows[3]["base_commit"]
    path = tmp_path / "broken.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DatasetError) as err:
        load_instances(str(path))
    message = str(err.value)
    assert "row 3" in message and rows[3]["instance_id"] in message and "base_commit" in message


def test_test_lists_that_are_not_lists_are_named(bundled):
    rows = _as_hf_rows(bundled)
    rows[1]["PASS_TO_PASS"] = "not json ["
    with pytest.raises(DatasetError, match=r"row 1 .*PASS_TO_PASS.*not a JSON list"):
        validate_instances(rows)
    rows = _as_hf_rows(bundled)
    rows[0]["FAIL_TO_PASS"] = json.dumps({"a": 1})
    with pytest.raises(DatasetError, match="row 0 .*FAIL_TO_PASS must be a list"):
        validate_instances(rows)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_instances(str(tmp_path / "nope.jsonl"))


def _many(n=60, repos=6):
    return pd.DataFrame(
        {
            "instance_id": [f"o__r{i % repos}-{i}" for i in range(n)],
            "repo": [f"o/r{i % repos}" for i in range(n)],
            "created_at": [f"2024-01-{1 + (i * 7) % 28:02d}T00:00:{i % 60:02d}Z" for i in range(n)],
        }
    )


@pytest.mark.parametrize("strategy", ["random", "by_repo", "by_date"])
def test_splits_are_deterministic_disjoint_and_sized(strategy):
    df = _many()
    train, test = split_instances(df, 20, 15, seed=40, strategy=strategy)
    again_train, again_test = split_instances(df, 20, 15, seed=40, strategy=strategy)
    assert train["instance_id"].tolist() == again_train["instance_id"].tolist()
    assert test["instance_id"].tolist() == again_test["instance_id"].tolist()
    assert len(train) == 20 and len(test) == 15
    assert not set(train["instance_id"]) & set(test["instance_id"])
    other_train, _ = split_instances(df, 20, 15, seed=41, strategy=strategy)
    if strategy != "by_date":
        assert other_train["instance_id"].tolist() != train["instance_id"].tolist()


def test_by_repo_keeps_each_repository_on_one_side():
    train, test = split_instances(_many(), 20, 15, strategy="by_repo")
    assert not set(train["repo"]) & set(test["repo"])


def test_by_date_puts_train_before_test():
    train, test = split_instances(_many(), 20, 15, strategy="by_date")
    assert pd.to_datetime(train["created_at"]).max() <= pd.to_datetime(test["created_at"]).min()


def test_split_sizes_over_the_dataset_are_refused():
    with pytest.raises(ValueError, match="has 60 instances"):
        split_instances(_many(), 50, 15)
    with pytest.raises(ValueError, match="Unknown split strategy"):
        split_instances(_many(), 5, 5, strategy="alphabetical")


def test_bundled_split_by_repo(bundled):
    train, test = split_instances(bundled, 5, 5, strategy="by_repo")
    assert not set(train["repo"]) & set(test["repo"])
