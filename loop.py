"""The optimization loop, shared by the notebook and the CLI.

For each loop: run the current ruleset on train and test (`run_act`), judge the training rows
(`evaluate_results`), log both splits to Phoenix, optimize the ruleset, and save
`act_rulesets/{run_name}/ruleset_{loop}.txt` (the cookbook's format) and
`act_results/{run_name}/{train,test}_results_{loop}.csv`. Loop 0 starts from an empty ruleset. A loop
whose ruleset file exists is finished: its outputs are read back, not re-run, so running again after a
crash or a kernel restart continues where it stopped. Everything of one run lives in its run directory
(`act_results/{run_name}/`: configuration, results, Phoenix experiment ids, costs, optimizer calls, the
agent runs) and its rulesets folder, so two runs never mix.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, Field

from config import PROJECT_DIR
from util import atomic_write_text

BASELINE_PROMPT = (
    "You are Cline, an autonomous coding agent working in a repository. You receive a GitHub issue, "
    "investigate the code with your tools (read files, search, run shell commands such as the tests), "
    "edit the code to resolve the issue, and finish when done. Your rules file (.clinerules) is appended "
    "to this prompt."
)


class LoopConfig(BaseModel):
    """Everything that defines an optimization run. Saved as `config.json` in the run directory."""

    run_name: str = Field("bundled-demo", description="names the run directory and the Phoenix datasets")
    dataset: str = Field("bundled", description="'bundled', a HF name (SWE-bench/SWE-bench_Lite) or a file")
    dataset_split: str = Field("test", description="split of the dataset to load (SWE-bench Lite: test or dev)")
    train_size: int = Field(150, description="training instances (the cookbook: 150)")
    test_size: int = Field(150, description="test instances (the cookbook: 150)")
    seed: int = Field(40, description="seed of the split (the cookbook: 40)")
    split_strategy: Literal["random", "by_repo", "by_date"] = "random"
    loops: int = Field(5, description="optimization loops")
    workers: int = Field(4, description="agent runs in parallel (~0.8 GB of memory each)")
    agent: Literal["cline", "claude-code"] = "cline"
    agent_model: str = Field("gpt-4.1", description="the agent's model")
    judge_model: str = Field("gpt-5", description="the LLM judge's model")
    optimizer_model: str = Field("gpt-5", description="the meta-prompt model")
    optimizer_mode: Literal["rewrite", "delta"] = "rewrite"
    context_size_k: int = Field(128, description="the optimizer's context window, in thousands of tokens")
    harness: Literal["local", "docker", "modal"] = "local"
    repos_dir: str | None = Field(None, description="folder of <owner>__<name>.git mirrors")
    timeout_s: float = Field(900, description="seconds per agent run before its process group is killed")
    max_requests: int = Field(60, description="LLM calls per agent run")
    attempts: int = Field(1, description="agent runs per instance")
    phoenix: bool = Field(True, description="log datasets and experiments to Phoenix")
    baseline_prompt: str = BASELINE_PROMPT


def run_paths(run_name: str, results_root: Path | None = None, rulesets_root: Path | None = None) -> tuple[Path, Path]:
    results_root = results_root or PROJECT_DIR / "act_results"
    rulesets_root = rulesets_root or PROJECT_DIR / "act_rulesets"
    return results_root / run_name, rulesets_root / run_name


def ruleset_file_text(ruleset: str, train_accuracy: float, test_accuracy: float, loop: int) -> str:
    """The cookbook's ruleset file: accuracies, a header line, then the ruleset."""
    return (
        f"train_accuracy: {train_accuracy:.4f}\ntest_accuracy: {test_accuracy:.4f}\n"
        f"optimized ruleset_{loop}:\n{ruleset}"
    )


def read_ruleset_file(path: Path) -> tuple[float, float, str]:
    lines = path.read_text().split("\n", 3)
    return float(lines[0].split(":")[1]), float(lines[1].split(":")[1]), lines[3] if len(lines) > 3 else ""


def accuracy(df: pd.DataFrame) -> float:
    return float((df["pass_or_fail"] == "pass").mean()) if len(df) else 0.0


def run_loop(
    config: LoopConfig,
    base_url: str | None = None,
    api_key: str | None = None,
    results_root: Path | None = None,
    rulesets_root: Path | None = None,
    resume: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Run (or continue) the optimization; return one row per loop: accuracies, sizes, costs, ruleset."""
    from evaluate import evaluate_results
    from optimizer import PromptLearningOptimizer, find_leaks
    from run_act import run_act
    from swebench_data import load_instances, split_instances

    run_dir, rulesets_dir = run_paths(config.run_name, results_root, rulesets_root)
    config_file = run_dir / "config.json"
    if config_file.exists():
        saved = LoopConfig.model_validate_json(config_file.read_text())
        if saved.model_dump(exclude={"loops"}) != config.model_dump(exclude={"loops"}):
            if not resume:
                raise ValueError(
                    f"Run {config.run_name} exists with another configuration ({config_file}); "
                    "choose another run_name, or resume it with its own configuration."
                )
            config = saved.model_copy(update={"loops": config.loops})
    run_dir.mkdir(parents=True, exist_ok=True)
    rulesets_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config_file, config.model_dump_json(indent=1))

    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    instances = load_instances(config.dataset, config.dataset_split)
    train, test = split_instances(instances, config.train_size, config.test_size, config.seed, config.split_strategy)
    atomic_write_text(
        run_dir / "split.json",
        json.dumps({"train": train["instance_id"].tolist(), "test": test["instance_id"].tolist()}, indent=1),
    )
    datasets = None
    if config.phoenix:
        from phoenix_experiments import create_datasets, ensure_phoenix, trace_llm_calls

        phoenix_url = ensure_phoenix()
        trace_llm_calls(f"{config.run_name}-llm-calls", phoenix_url)
        datasets = dict(zip(("train", "test"), create_datasets(train, test, config.run_name, phoenix_url), strict=True))

    optimizer = PromptLearningOptimizer(
        config.baseline_prompt,
        model_choice=config.optimizer_model,
        openai_api_key=api_key,
        base_url=base_url,
        mode=config.optimizer_mode,
    )
    ruleset = ""
    summary = []
    for loop in range(config.loops):
        ruleset_path = rulesets_dir / f"ruleset_{loop}.txt"
        train_csv, test_csv = run_dir / f"train_results_{loop}.csv", run_dir / f"test_results_{loop}.csv"
        if ruleset_path.exists() and train_csv.exists() and test_csv.exists():
            train_acc, test_acc, new_ruleset = read_ruleset_file(ruleset_path)
            costs = json.loads((run_dir / f"costs_{loop}.json").read_text())
            summary.append(
                {
                    "loop": loop,
                    "train_accuracy": train_acc,
                    "test_accuracy": test_acc,
                    **costs,
                    "ruleset": ruleset,
                    "resumed": True,
                }
            )
            if config.optimizer_mode == "delta" and (run_dir / f"rules_{loop}.json").exists():
                optimizer.load_rules(run_dir / f"rules_{loop}.json")
            ruleset = new_ruleset
            continue
        if progress:
            print(f"loop {loop}: ruleset of {len(ruleset)} characters")
        optimizer.loop = loop
        common = dict(
            workers=config.workers,
            agent=config.agent,
            model=config.agent_model,
            harness=config.harness,
            repos_dir=config.repos_dir,
            split=config.dataset_split,
            timeout=config.timeout_s,
            attempts=config.attempts,
            max_requests=config.max_requests,
            base_url=base_url,
            api_key=api_key,
            runs_dir=run_dir / "agent_runs",
            progress=progress,
        )
        train_df = run_act(
            config.dataset, train["instance_id"].tolist(), f"{config.run_name}-train-{loop}", ruleset, **common
        )
        test_df = run_act(
            config.dataset, test["instance_id"].tolist(), f"{config.run_name}-test-{loop}", ruleset, **common
        )
        train_df = evaluate_results(
            train_df, model=config.judge_model, base_url=base_url, api_key=api_key, progress=progress
        )
        for df, path in ((train_df, train_csv), (test_df, test_csv)):
            atomic_write_text(path, df.to_csv(index=False))

        experiments = {}
        if datasets:
            from phoenix_experiments import PhoenixUnavailable, log_experiment_to_phoenix

            for split, df in (("train", train_df), ("test", test_df)):
                meta = {
                    "loop": loop,
                    "split": split,
                    "accuracy": round(accuracy(df), 4),
                    "size": len(df),
                    "agent": config.agent,
                    "model": config.agent_model,
                    "ruleset_sha": df["ruleset_sha"].iloc[0],
                    "ruleset": ruleset,
                    "run_name": config.run_name,
                }
                try:
                    experiments[split] = log_experiment_to_phoenix(
                        phoenix_url, None, datasets[split], f"{config.run_name} loop {loop} {split}", df, meta
                    )
                except PhoenixUnavailable as e:
                    warnings.warn(str(e), stacklevel=2)
        atomic_write_text(run_dir / f"phoenix_{loop}.json", json.dumps(experiments, indent=1, default=str))

        calls_before = len(optimizer.calls)
        new_ruleset = optimizer.optimize(
            train_df,
            "cline_patch",
            ["correctness", "explanation", "improvement"],
            ruleset=ruleset,
            context_size_k=config.context_size_k,
        )
        calls = optimizer.calls[calls_before:]
        atomic_write_text(run_dir / f"optimizer_calls_{loop}.json", json.dumps([asdict(c) for c in calls], indent=1))
        if config.optimizer_mode == "delta":
            optimizer.save_rules(run_dir / f"rules_{loop}.json")
        leaks = find_leaks(
            new_ruleset, train_df.drop_duplicates("instance_id").merge(train[["instance_id", "repo"]], on="instance_id")
        )
        atomic_write_text(run_dir / f"leaks_{loop}.csv", leaks.to_csv(index=False))
        costs = {
            "train_size": len(train_df),
            "test_size": len(test_df),
            "agent_llm_calls": int(train_df["llm_calls"].sum() + test_df["llm_calls"].sum()),
            "agent_tokens": int(
                train_df[["prompt_tokens", "completion_tokens"]].sum().sum()
                + test_df[["prompt_tokens", "completion_tokens"]].sum().sum()
            ),
            "agent_cost_usd": float(pd.concat([train_df["cost_usd"], test_df["cost_usd"]]).fillna(0).sum()),
            "judge_tokens": int(train_df["judge_prompt_tokens"].sum() + train_df["judge_completion_tokens"].sum()),
            "judge_cost_usd": float(train_df["judge_cost_usd"].sum()),
            "optimizer_tokens": int(sum(c.prompt_tokens + c.completion_tokens for c in calls)),
            "optimizer_cost_usd": float(sum(c.cost_usd or 0 for c in calls)),
            "leaky_rules": int(leaks["rule"].nunique()) if len(leaks) else 0,
        }
        atomic_write_text(run_dir / f"costs_{loop}.json", json.dumps(costs, indent=1))
        # written last: its presence marks the loop as finished
        atomic_write_text(ruleset_path, ruleset_file_text(new_ruleset, accuracy(train_df), accuracy(test_df), loop))
        summary.append(
            {
                "loop": loop,
                "train_accuracy": accuracy(train_df),
                "test_accuracy": accuracy(test_df),
                **costs,
                "ruleset": ruleset,
                "resumed": False,
            }
        )
        if progress:
            print(f"loop {loop}: train {accuracy(train_df):.3f}, test {accuracy(test_df):.3f} -> {ruleset_path}")
        ruleset = new_ruleset
    table = pd.DataFrame(summary)
    atomic_write_text(run_dir / "summary.csv", table.to_csv(index=False))
    return table


def load_results(run_name: str, results_root: Path | None = None) -> dict[int, dict[str, pd.DataFrame]]:
    """Every finished loop's results of a run: {loop: {"train": df, "test": df}}."""
    run_dir, _ = run_paths(run_name, results_root)
    found = {}
    for path in sorted(run_dir.glob("train_results_*.csv")):
        loop = int(path.stem.rsplit("_", 1)[1])
        test_path = run_dir / f"test_results_{loop}.csv"
        if test_path.exists():
            found[loop] = {"train": pd.read_csv(path), "test": pd.read_csv(test_path)}
    return found
