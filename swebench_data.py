"""Instances: load SWE-bench-format datasets and split them into train and test.

A dataset is named by one string, the same everywhere in the cookbook:
- `"bundled"`: the offline benchmark shipped in `bundled/` (materialized as git repositories);
- a Hugging Face name such as `"SWE-bench/SWE-bench_Lite"` (or `"lite"`), split `test` or `dev`;
- a local `.json`, `.jsonl` or `.parquet` file with the same fields.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd

REQUIRED_FIELDS = (
    "instance_id",
    "repo",
    "base_commit",
    "problem_statement",
    "patch",
    "test_patch",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
    "version",
)
TEST_LIST_FIELDS = ("FAIL_TO_PASS", "PASS_TO_PASS")
SPLIT_STRATEGIES = ("random", "by_repo", "by_date")
BUNDLED = "bundled"


class DatasetError(ValueError):
    """The dataset cannot be used as it is; the message says which row and field, and what to fix."""


def load_instances(dataset_name: str, split: str = "test", instance_ids: list[str] | None = None) -> pd.DataFrame:
    """Load a SWE-bench-format dataset as a DataFrame, one row per instance, validated.

    `FAIL_TO_PASS` and `PASS_TO_PASS` come back as Python lists whatever the source held (JSON
    strings in the Hugging Face datasets), and `version` as a string. `instance_ids` keeps only
    those instances, in the dataset's order; an unknown id is an error.
    """
    if dataset_name == BUNDLED:
        import bundled_benchmark

        rows = bundled_benchmark.load_bundled_instances()
    else:
        rows = _load_rows(dataset_name, split)
    df = validate_instances(rows, source=dataset_name)
    if instance_ids is not None:
        missing = sorted(set(instance_ids) - set(df["instance_id"]))
        if missing:
            raise DatasetError(f"{dataset_name}: no instance named {', '.join(missing)}")
        df = df[df["instance_id"].isin(set(instance_ids))].reset_index(drop=True)
    return df


def _load_rows(dataset_name: str, split: str) -> list[dict]:
    from swebench.harness.utils import load_swebench_dataset

    looks_like_file = dataset_name.endswith((".json", ".jsonl", ".parquet"))
    if looks_like_file and not Path(dataset_name).is_file():
        raise DatasetError(f"Dataset file {dataset_name} does not exist.")
    try:
        rows = load_swebench_dataset(dataset_name, split)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{dataset_name} is not valid JSON ({e}); fix the file.") from e
    except Exception as e:
        if looks_like_file:
            raise DatasetError(f"Could not read {dataset_name}: {e}") from e
        raise DatasetError(
            f"Could not load {dataset_name!r} (split {split!r}) from the Hugging Face Hub: "
            f"{type(e).__name__}: {e}. Without network access, download it elsewhere and point "
            "the dataset at the .parquet/.jsonl file, or use the offline benchmark 'bundled'."
        ) from e
    return [dict(row) for row in rows]


def validate_instances(rows: list[dict], source: str = "dataset") -> pd.DataFrame:
    """Check every row has the fields the pipeline needs and normalize them; return a DataFrame.

    A row that lacks a field, or whose test lists are not lists (or JSON strings of lists), raises
    `DatasetError` naming the row number, its instance_id and the field.
    """
    if not rows:
        raise DatasetError(f"{source} holds no instances.")
    clean = []
    for number, row in enumerate(rows):
        where = f"{source}: row {number}"
        if not isinstance(row, dict):
            raise DatasetError(f"{where} is a {type(row).__name__}, not an object with fields.")
        if row.get("instance_id"):
            where += f" (instance_id={row['instance_id']!r})"
        missing = [f for f in REQUIRED_FIELDS if row.get(f) is None]
        missing += [f for f in ("instance_id", "repo", "base_commit") if f not in missing and not row[f]]
        if missing:
            raise DatasetError(f"{where} lacks the field(s) {', '.join(missing)}; add them to that row.")
        row = dict(row)
        for field in TEST_LIST_FIELDS:
            row[field] = _test_list(row[field], f"{where}, field {field}")
        row["version"] = str(row["version"])
        clean.append(row)
    df = pd.DataFrame(clean)
    duplicated = df["instance_id"][df["instance_id"].duplicated()].tolist()
    if duplicated:
        raise DatasetError(f"{source}: instance_id repeated: {', '.join(map(str, duplicated))}")
    return df


def _test_list(value, where: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{where} is not a JSON list of test names ({e}).") from e
    if hasattr(value, "tolist"):  # numpy arrays from parquet
        value = value.tolist()
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise DatasetError(f"{where} must be a list of test names, got {type(value).__name__}.")
    return value


def split_instances(
    df: pd.DataFrame,
    train_size: int,
    test_size: int,
    seed: int = 40,
    strategy: str = "random",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split instances into (train, test), deterministic for a given seed and disjoint.

    - `random`: a seeded shuffle, the first `train_size` train, the next `test_size` test
      (the cookbook's split: seed 40, 150/150 on SWE-bench Lite).
    - `by_repo`: whole repositories go to one side, so no repository is on both sides; checks
      that learned rules are not about one codebase.
    - `by_date`: every test instance was created at or after every train instance (`created_at`);
      checks that rules learned on the past hold on later issues.
    """
    if strategy not in SPLIT_STRATEGIES:
        raise ValueError(f"Unknown split strategy {strategy!r}; use one of {', '.join(SPLIT_STRATEGIES)}.")
    if train_size < 0 or test_size < 0:
        raise ValueError("train_size and test_size must be >= 0.")
    n = len(df)
    if train_size + test_size > n:
        raise ValueError(f"train_size + test_size = {train_size + test_size} but the dataset has {n} instances.")
    rng = random.Random(seed)
    ids = sorted(df["instance_id"])

    if strategy == "random":
        rng.shuffle(ids)
        train_ids, test_ids = ids[:train_size], ids[train_size : train_size + test_size]
    elif strategy == "by_repo":
        repos = sorted(df["repo"].unique())
        rng.shuffle(repos)
        by_repo = df.groupby("repo")["instance_id"].apply(sorted).to_dict()
        train_pool: list[str] = []
        test_pool: list[str] = []
        for repo in repos:  # fill train with whole repositories, the rest is the test pool
            (train_pool if len(train_pool) < train_size else test_pool).extend(by_repo[repo])
        if len(test_pool) < test_size:
            raise ValueError(
                f"by_repo: after {len(train_pool)} train instances from whole repositories, only "
                f"{len(test_pool)} remain for test (asked {test_size}); lower the sizes."
            )
        train_ids = rng.sample(train_pool, train_size)
        test_ids = rng.sample(test_pool, test_size)
    else:  # by_date
        if "created_at" not in df.columns or df["created_at"].isna().any():
            raise ValueError("by_date needs a created_at value on every instance.")
        ordered = df.assign(_t=pd.to_datetime(df["created_at"], utc=True)).sort_values(["_t", "instance_id"])
        ordered_ids = ordered["instance_id"].tolist()
        test_ids = ordered_ids[n - test_size :] if test_size else []
        train_ids = rng.sample(ordered_ids[: n - test_size], train_size)

    by_id = df.set_index("instance_id", drop=False)
    train = by_id.loc[sorted(train_ids)].reset_index(drop=True)
    test = by_id.loc[sorted(test_ids)].reset_index(drop=True)
    return train, test
