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
    agent: Literal["cline", "cline-modal", "claude-code"] = "cline"
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
    validation_size: int = Field(0, description="instances carved from train to choose the best ruleset on")
    patience: int | None = Field(None, description="stop after this many loops without improvement (validation)")
    budget_usd: float | None = Field(None, description="stop before a loop that would spend more (USD)")
    budget_tokens: int | None = Field(None, description="stop before a loop that would spend more (tokens)")
    requests_per_minute: int | None = Field(None, description="global limit of the agents' LLM requests")
    tokens_per_minute: int | None = Field(None, description="global limit of the agents' LLM tokens")
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


SPLITS = ("train", "validation", "test")


def select_best(table: pd.DataFrame) -> int:
    """The loop whose ruleset is best on validation (on train when there is no validation split), never
    on test; ties go to the earlier loop."""
    column = (
        "validation_accuracy"
        if "validation_accuracy" in table and table["validation_accuracy"].notna().any()
        else "train_accuracy"
    )
    return int(table.loc[table[column].idxmax(), "loop"])


def loops_without_improvement(table: pd.DataFrame) -> int:
    """How many finished loops came after the best one (by `select_best`)."""
    return int(table["loop"].max()) - select_best(table)


def loop_tokens(costs: dict) -> int:
    return int(costs.get("agent_tokens", 0) + costs.get("judge_tokens", 0) + costs.get("optimizer_tokens", 0))


def loop_cost_usd(costs: dict) -> float:
    return float(costs.get("agent_cost_usd", 0) + costs.get("judge_cost_usd", 0) + costs.get("optimizer_cost_usd", 0))


def run_loop(
    config: LoopConfig,
    base_url: str | None = None,
    api_key: str | None = None,
    results_root: Path | None = None,
    rulesets_root: Path | None = None,
    resume: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Run (or continue) the optimization; return one row per loop: accuracies per split, sizes, costs and
    the ruleset used. Also writes `report.json`: the best loop (chosen on validation, else train), and
    the best ruleset against the empty one on test with the paired exact test."""
    from evaluate import evaluate_results
    from optimizer import PromptLearningOptimizer, find_leaks
    from run_act import run_act
    from stats import compare, per_instance
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
    (run_dir / "stopped.json").unlink(missing_ok=True)

    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    instances = load_instances(config.dataset, config.dataset_split)
    train, test = split_instances(instances, config.train_size, config.test_size, config.seed, config.split_strategy)
    if config.validation_size:
        validation, train = split_instances(
            train, config.validation_size, len(train) - config.validation_size, config.seed, "random"
        )
    else:
        validation = train.iloc[0:0]
    splits = {"train": train, "validation": validation, "test": test}
    atomic_write_text(
        run_dir / "split.json", json.dumps({k: v["instance_id"].tolist() for k, v in splits.items()}, indent=1)
    )
    datasets = {}
    if config.phoenix:
        from phoenix_experiments import create_dataset, ensure_phoenix, phoenix_client, trace_llm_calls

        phoenix_url = ensure_phoenix()
        trace_llm_calls(f"{config.run_name}-llm-calls", phoenix_url)
        client = phoenix_client(phoenix_url)
        datasets = {
            name: create_dataset(client, f"{config.run_name}-{name}", df) for name, df in splits.items() if len(df)
        }

    optimizer = PromptLearningOptimizer(
        config.baseline_prompt,
        model_choice=config.optimizer_model,
        openai_api_key=api_key,
        base_url=base_url,
        mode=config.optimizer_mode,
    )
    ruleset = ""
    summary: list[dict] = []
    stop_reason = ""
    for loop in range(config.loops):
        ruleset_path = rulesets_dir / f"ruleset_{loop}.txt"
        paths = {name: run_dir / f"{name}_results_{loop}.csv" for name, df in splits.items() if len(df)}
        if ruleset_path.exists() and all(p.exists() for p in paths.values()):
            _, _, new_ruleset = read_ruleset_file(ruleset_path)
            summary.append(json.loads((run_dir / f"loop_{loop}.json").read_text()) | {"resumed": True})
            if config.optimizer_mode == "delta" and (run_dir / f"rules_{loop}.json").exists():
                optimizer.load_rules(run_dir / f"rules_{loop}.json")
            ruleset = new_ruleset
            continue

        # stop before a loop when the budget would be exceeded, or validation stopped improving
        spent_tokens = sum(loop_tokens(row) for row in summary)
        spent_usd = sum(loop_cost_usd(row) for row in summary)
        if summary:
            estimate_tokens, estimate_usd = loop_tokens(summary[-1]), loop_cost_usd(summary[-1])
            if progress:
                print(
                    f"loop {loop}: estimated cost ~{estimate_tokens:,} tokens, ${estimate_usd:.2f} "
                    f"(spent so far {spent_tokens:,} tokens, ${spent_usd:.2f})"
                )
            if config.budget_tokens is not None and spent_tokens + estimate_tokens > config.budget_tokens:
                stop_reason = (
                    f"budget: {spent_tokens:,} tokens spent, the next loop is estimated at "
                    f"{estimate_tokens:,}, over the budget of {config.budget_tokens:,} tokens"
                )
            elif config.budget_usd is not None and spent_usd + estimate_usd > config.budget_usd:
                stop_reason = (
                    f"budget: ${spent_usd:.2f} spent, the next loop is estimated at ${estimate_usd:.2f}, "
                    f"over the budget of ${config.budget_usd:.2f}"
                )
            elif config.patience and loops_without_improvement(pd.DataFrame(summary)) >= config.patience:
                stop_reason = (
                    f"early stopping: no improvement on {'validation' if len(validation) else 'train'} "
                    f"for {config.patience} loop(s)"
                )
            if stop_reason:
                break
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
            requests_per_minute=config.requests_per_minute,
            tokens_per_minute=config.tokens_per_minute,
            progress=progress,
        )
        results = {
            name: run_act(
                config.dataset, df["instance_id"].tolist(), f"{config.run_name}-{name}-{loop}", ruleset, **common
            )
            for name, df in splits.items()
            if len(df)
        }
        results["train"] = evaluate_results(
            results["train"], model=config.judge_model, base_url=base_url, api_key=api_key, progress=progress
        )
        for name, df in results.items():
            atomic_write_text(paths[name], df.to_csv(index=False))
            atomic_write_text(run_dir / f"{name}_per_instance_{loop}.csv", per_instance(df).to_csv(index=False))

        experiments = {}
        if datasets:
            from phoenix_experiments import PhoenixUnavailable, log_experiment_to_phoenix

            for name, df in results.items():
                meta = {
                    "loop": loop,
                    "split": name,
                    "accuracy": round(accuracy(df), 4),
                    "size": len(df),
                    "agent": config.agent,
                    "model": config.agent_model,
                    "ruleset_sha": df["ruleset_sha"].iloc[0],
                    "ruleset": ruleset,
                    "run_name": config.run_name,
                }
                try:
                    experiments[name] = log_experiment_to_phoenix(
                        phoenix_url, None, datasets[name], f"{config.run_name} loop {loop} {name}", df, meta
                    )
                except PhoenixUnavailable as e:
                    warnings.warn(str(e), stacklevel=2)
        atomic_write_text(run_dir / f"phoenix_{loop}.json", json.dumps(experiments, indent=1, default=str))

        calls_before = len(optimizer.calls)
        new_ruleset = optimizer.optimize(
            results["train"],
            "cline_patch",
            ["correctness", "explanation", "improvement"],
            ruleset=ruleset,
            context_size_k=config.context_size_k,
        )
        calls = optimizer.calls[calls_before:]
        atomic_write_text(run_dir / f"optimizer_calls_{loop}.json", json.dumps([asdict(c) for c in calls], indent=1))
        if config.optimizer_mode == "delta":
            optimizer.save_rules(run_dir / f"rules_{loop}.json")
        train_rows = (
            results["train"].drop_duplicates("instance_id").merge(train[["instance_id", "repo"]], on="instance_id")
        )
        leaks = find_leaks(new_ruleset, train_rows)
        atomic_write_text(run_dir / f"leaks_{loop}.csv", leaks.to_csv(index=False))
        all_rows = pd.concat(results.values())
        row = {
            "loop": loop,
            **{f"{name}_accuracy": accuracy(df) for name, df in results.items()},
            **{f"{name}_size": len(df) for name, df in results.items()},
            "agent_llm_calls": int(all_rows["llm_calls"].sum()),
            "agent_tokens": int(all_rows[["prompt_tokens", "completion_tokens"]].sum().sum()),
            "agent_cost_usd": float(all_rows["cost_usd"].fillna(0).sum()),
            "judge_tokens": int(
                results["train"]["judge_prompt_tokens"].sum() + results["train"]["judge_completion_tokens"].sum()
            ),
            "judge_cost_usd": float(results["train"]["judge_cost_usd"].sum()),
            "optimizer_tokens": int(sum(c.prompt_tokens + c.completion_tokens for c in calls)),
            "optimizer_cost_usd": float(sum(c.cost_usd or 0 for c in calls)),
            "leaky_rules": int(leaks["rule"].nunique()) if len(leaks) else 0,
            "ruleset": ruleset,
        }
        atomic_write_text(run_dir / f"loop_{loop}.json", json.dumps(row, indent=1))
        # written last: its presence marks the loop as finished
        atomic_write_text(
            ruleset_path, ruleset_file_text(new_ruleset, row["train_accuracy"], row["test_accuracy"], loop)
        )
        summary.append(row | {"resumed": False})
        if progress:
            print(
                f"loop {loop}: "
                + ", ".join(f"{n} {accuracy(df):.3f}" for n, df in results.items())
                + f" -> {ruleset_path}"
            )
        ruleset = new_ruleset

    table = pd.DataFrame(summary)
    atomic_write_text(run_dir / "summary.csv", table.to_csv(index=False))
    if stop_reason:
        atomic_write_text(run_dir / "stopped.json", json.dumps({"before_loop": len(summary), "reason": stop_reason}))
        if progress:
            print(f"stopped before loop {len(summary)}: {stop_reason}")
    if len(table):
        best = select_best(table)
        finished = load_results(config.run_name, results_root)
        report = {
            "best_loop": best,
            "chosen_on": "validation" if len(validation) else "train",
            "best_ruleset": table.loc[table["loop"] == best, "ruleset"].iloc[0],
            "stopped": stop_reason,
        }
        if best in finished and 0 in finished:
            report["best_vs_empty_on_test"] = compare(finished[0]["test"], finished[best]["test"])
        atomic_write_text(run_dir / "report.json", json.dumps(report, indent=1))
        atomic_write_text(rulesets_dir / "best_ruleset.txt", report["best_ruleset"])
    return table


def load_results(run_name: str, results_root: Path | None = None) -> dict[int, dict[str, pd.DataFrame]]:
    """Every finished loop's results of a run: {loop: {"train": df, "test": df[, "validation": df]}}."""
    run_dir, _ = run_paths(run_name, results_root)
    found = {}
    for path in sorted(run_dir.glob("train_results_*.csv")):
        loop = int(path.stem.rsplit("_", 1)[1])
        test_path = run_dir / f"test_results_{loop}.csv"
        validation_path = run_dir / f"validation_results_{loop}.csv"
        if test_path.exists():
            found[loop] = {"train": pd.read_csv(path), "test": pd.read_csv(test_path)}
            if validation_path.exists():
                found[loop]["validation"] = pd.read_csv(validation_path)
    return found
