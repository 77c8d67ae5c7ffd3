"""Splitting instances into train and test (and validation, carved from train), deterministically."""

from __future__ import annotations

import random

import pandas as pd

SPLIT_STRATEGIES = ("random", "by_repo", "by_date")


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
