"""Instances: load SWE-bench-format datasets and check every row.

A dataset is named by one string, the same everywhere in the cookbook:
- `"bundled"`: the offline benchmark shipped in `bundled/` (materialized as git repositories);
- a Hugging Face name such as `"SWE-bench/SWE-bench_Lite"` (or `"lite"`), split `test` or `dev`;
- a local `.json`, `.jsonl` or `.parquet` file with the same fields.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from cookbook.seams import CookbookError

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
# Optional per-row text fields; a row without one gets "" (a table would give it NaN, which reads as set)
OPTIONAL_TEXT_FIELDS = (
    "install",
    "test_cmd",
    "image",
    "eval_script",
    "log_parser",
    "eval_type",
    "environment_setup_commit",
    "created_at",
)
BUNDLED = "bundled"


class DatasetError(CookbookError, ValueError):
    """The dataset cannot be used as it is; the message says which row and field, and what to fix."""


def load_instances(dataset_name: str, split: str = "test", instance_ids: list[str] | None = None) -> pd.DataFrame:
    """Load a SWE-bench-format dataset as a DataFrame, one row per instance, validated.

    `FAIL_TO_PASS` and `PASS_TO_PASS` come back as Python lists whatever the source held (JSON
    strings in the Hugging Face datasets), and `version` as a string. `instance_ids` keeps only
    those instances, in the dataset's order; an unknown id is an error.
    """
    if dataset_name == BUNDLED:
        from cookbook.data.bundled import load_bundled_instances

        rows = load_bundled_instances()
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

    A row that lacks a field, whose test lists are not lists (or JSON strings of lists), or whose
    FAIL_TO_PASS is empty (nothing would tell a fix from no fix) raises `DatasetError` naming the row
    number, its instance_id and the field.
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
        if not row["FAIL_TO_PASS"]:
            raise DatasetError(
                f"{where}: FAIL_TO_PASS is empty; a task needs a test that fails before the fix and passes after "
                "it (name it there, or leave the row out)."
            )
        row["version"] = str(row["version"])
        clean.append(row)
    df = pd.DataFrame(clean)
    for field in OPTIONAL_TEXT_FIELDS:
        if field in df:
            df[field] = df[field].where(df[field].apply(lambda v: isinstance(v, str)), "")
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
