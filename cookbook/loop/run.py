"""One optimization run's files and bookkeeping; the notebook's loop cell drives it.

Everything of one run lives in `act_results/<run_name>/` (configuration, split, results, Phoenix
experiment ids, costs, optimizer calls, the agent runs) and `act_rulesets/<run_name>/`
(`ruleset_<loop>.txt`, the cookbook's format), so two runs never mix. `ruleset_<loop>.txt` is written
last: its presence marks a loop as finished, and a finished loop is read back, never run again, so
running the notebook again after a crash or a kernel restart continues where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from math import nan
from pathlib import Path

import pandas as pd

from cookbook.data import load_instances, split_instances
from cookbook.files import atomic_write_text
from cookbook.loop.config import LoopConfig
from cookbook.loop.selection import Candidate, Choice, Latest, make_selection, select_best
from cookbook.loop.stopping import AnyOf, Budget, Patience, StopRule, known_sum
from cookbook.mining import dataset_file
from cookbook.paths import PROJECT_DIR
from cookbook.rulesets import find_leaks, parse_rules, render_rules, ruleset_tokens
from cookbook.seams import ConfigurationError, Endpoint
from cookbook.stats import accuracy, compare, errors, per_instance, scored

SPLITS = ("train", "validation", "test")


def run_paths(run_name: str, results_root: Path | None = None, rulesets_root: Path | None = None) -> tuple[Path, Path]:
    """(results directory, rulesets directory) of a run."""
    results_root = results_root or PROJECT_DIR / "act_results"
    rulesets_root = rulesets_root or PROJECT_DIR / "act_rulesets"
    return results_root / run_name, rulesets_root / run_name


def saved_config(run_name: str, results_root: Path | None = None) -> LoopConfig | None:
    """The configuration a run was made with (its `config.json`), or None when there is no such run."""
    config_file = run_paths(run_name, results_root)[0] / "config.json"
    return LoopConfig.model_validate_json(config_file.read_text()) if config_file.exists() else None


def check_continuation(saved: LoopConfig, config: LoopConfig) -> None:
    """Raise ConfigurationError (before anything is sent or written) unless `config` may continue the run
    saved as `saved`: the same identity, and models that can answer as they did — a run made with real
    models is never continued by the offline demo's scripted ones (no key set), nor the other way round."""
    name = config.run_name
    if not saved.offline_demo and config.offline_demo:
        models = ", ".join(f"{role} {getattr(saved, f'{role}_model')}" for role in ("agent", "judge", "optimizer"))
        raise ConfigurationError(
            f"Run {name!r} was made with real models ({models}) and no provider key is set now, so only the "
            "offline demo's scripted models could answer: set OPENAI_API_KEY (or ANTHROPIC_API_KEY, or the roles' "
            "AGENT_API_KEY, JUDGE_API_KEY, OPTIMIZER_API_KEY) and continue it again; nothing was sent."
        )
    if saved.offline_demo and not config.offline_demo:
        raise ConfigurationError(
            f"Run {name!r} was made in offline demo mode (scripted models) and a provider variable is set now: "
            "unset OPENAI_API_KEY / ANTHROPIC_API_KEY / the roles' variables to continue it, or start another run."
        )
    if differences := saved.differences(config):
        raise ConfigurationError(
            f"Run {name!r} exists with another configuration ({'; '.join(differences)}). Choose another RUN_NAME "
            "(None names the run after its configuration), or continue it with its own (operational settings "
            f"such as --loops, --workers or --phoenix may change): python -m cookbook run --run-name {name} --resume"
        )


def ruleset_file_text(ruleset: str, row: dict, loop: int) -> str:
    """The cookbook's ruleset file: its first lines the accuracies (over scored runs) of the ruleset used in
    the loop, then how many runs were scored and how many were infrastructure errors (left out of the
    accuracy), then the selection — the policy, the split it chose on, the candidate the new ruleset grew
    from (`grown_from: loop <k>`), each candidate's score there (`candidate_<k>: …`, pareto: the instances
    it is best on) — and the token lengths of the ruleset used and of the new one, the header line
    `optimized ruleset_<loop>:`, then the new ruleset. Every header line is `key: value`."""
    lines = [f"train_accuracy: {row['train_accuracy']:.4f}", f"test_accuracy: {row.get('test_accuracy', nan):.4f}"]
    for split in SPLITS:
        if f"{split}_scored" in row:
            lines += [f"{split}_scored: {row[f'{split}_scored']}", f"{split}_errors: {row[f'{split}_errors']}"]
    if "selection" in row:
        lines += [f"selection: {row['selection']} (on {row['selected_on']})", f"grown_from: loop {row['grown_from']}"]
        front = json.loads(row.get("front") or "{}")
        for k, score in json.loads(row["candidate_scores"]).items():
            best_on = f" (best on {front[k]} instances)" if k in front else ""
            lines.append(f"candidate_{k}: {row['selected_on']} {score:.4f}{best_on}")
    if "ruleset_tokens" in row:
        lines += [
            f"ruleset_tokens: {row['ruleset_tokens']}",
            f"learned_ruleset_tokens: {row['learned_ruleset_tokens']}",
        ]
    return "\n".join(lines) + f"\noptimized ruleset_{loop}:\n{ruleset}"


def read_ruleset_file(path: Path) -> tuple[float, float, str]:
    """(train accuracy, test accuracy, ruleset) of a ruleset file."""
    header, _, ruleset = path.read_text().partition("\noptimized ruleset_")
    values = dict(line.split(": ", 1) for line in header.splitlines())
    return float(values["train_accuracy"]), float(values["test_accuracy"]), ruleset.split("\n", 1)[1]


class OptimizationRun:
    """A run's configuration, split, directories and history. Making one checks the configuration against
    the dataset and against an existing run of the same name, and writes nothing; `begin()` writes the
    run's files. A run that exists continues only with the same identity (`LoopConfig.identity`): its
    operational settings (loops, workers, Phoenix, limits, budgets …) may change, and each loop records
    the ones it ran with."""

    def __init__(self, config: LoopConfig, results_root: Path | None = None, rulesets_root: Path | None = None):
        self.dir, self.rulesets_dir = run_paths(config.run_name, results_root, rulesets_root)
        saved = saved_config(config.run_name, results_root)
        if saved is not None:
            check_continuation(saved, config)
        self.config = c = config
        self.workers: int | None = None  # the agent runs at once this session (the preflight chooses)
        instances = load_instances(dataset_file(c.dataset), c.dataset_split)  # mine:PATH is mined first
        try:
            train, test = split_instances(instances, c.train_size, c.test_size, c.seed, c.split_strategy)
        except ValueError as e:
            raise ConfigurationError(f"configuration: {e}") from None
        validation = train.iloc[0:0]
        if c.validation_size:
            rest = len(train) - c.validation_size
            validation, train = split_instances(train, c.validation_size, rest, c.seed, "random")
        self.instances = instances
        self.splits = {"train": train, "validation": validation, "test": test}
        self.rows: list[dict] = []
        self.choices: dict[int, Choice] = {}  # the selection made in each loop of this session
        self.stop_reason = ""

    def begin(self) -> None:
        """Write the run's configuration and split (the run exists from here); idempotent."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rulesets_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.dir / "config.json", self.config.model_dump_json(indent=1))
        (self.dir / "stopped.json").unlink(missing_ok=True)
        ids = {name: df["instance_id"].tolist() for name, df in self.splits.items()}
        atomic_write_text(self.dir / "split.json", json.dumps(ids, indent=1))

    # -- what the loop cell reads -----------------------------------------------------------------------
    def ids(self, split: str) -> list[str]:
        return self.splits[split]["instance_id"].tolist()

    def split_ids(self) -> dict[str, list[str]]:
        """{split: instance ids} of the splits that have instances (train, then validation, then test)."""
        return {name: self.ids(name) for name, df in self.splits.items() if len(df)}

    @property
    def history(self) -> pd.DataFrame:
        """One row per loop done so far (run now or read back): accuracies, sizes, tokens, costs, ruleset."""
        return pd.DataFrame(self.rows)

    def act_options(self, agent_endpoint: Endpoint, progress: bool = True) -> dict:
        """run_act's keyword arguments for this run; `workers` is the preflight's choice (`self.workers`), else
        the configuration's (None: run_act chooses)."""
        c = self.config
        return dict(
            workers=self.workers or c.workers,
            agent=c.agent,
            endpoint=agent_endpoint,
            harness=c.harness,
            repos_dir=c.repos_dir,
            split=c.dataset_split,
            timeout=c.timeout_s,
            attempts=c.attempts,
            max_requests=c.max_requests,
            runs_dir=c.agent_runs_dir,  # None: run_act's, <cookbook dir>/agent_runs, shared by every run
            requests_per_minute=c.requests_per_minute,
            tokens_per_minute=c.tokens_per_minute,
            max_error_share=c.max_error_share,
            progress=progress,
        )

    def stop_rule(self) -> StopRule:
        """The configured rules that end a run before its last loop: budgets and early stopping."""
        c = self.config
        rules = [
            *([Budget(c.budget_tokens, "tokens")] if c.budget_tokens is not None else []),
            *([Budget(c.budget_usd, "usd")] if c.budget_usd is not None else []),
            *([Patience(c.patience)] if c.patience else []),
        ]
        return AnyOf(tuple(rules))

    # -- the loop's files -------------------------------------------------------------------------------
    def unfinished(self) -> list[int]:
        """The loops still to run."""
        return [loop for loop in range(self.config.loops) if not self.finished(loop)]

    def finished(self, loop: int) -> bool:
        """A loop whose ruleset file and results exist is done."""
        if not (self.rulesets_dir / f"ruleset_{loop}.txt").exists():
            return False
        return all((self.dir / f"{name}_results_{loop}.csv").exists() for name in self.split_ids())

    def read_back(self, loop: int, optimizer) -> str:
        """A finished loop's history row and the ruleset it learned (delta mode: its rules too)."""
        _, _, new_ruleset = read_ruleset_file(self.rulesets_dir / f"ruleset_{loop}.txt")
        self.rows.append(json.loads((self.dir / f"loop_{loop}.json").read_text()) | {"resumed": True})
        rules_file = self.dir / f"rules_{loop}.json"
        if optimizer.mode == "delta" and rules_file.exists():
            optimizer.load_rules(rules_file)
        return new_ruleset

    def save_results(self, loop: int, **results: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
        """Write each split's results (and per-instance pass rates) as CSVs; return the splits that ran."""
        saved = {name: df for name, df in results.items() if df is not None}
        for name, df in saved.items():
            atomic_write_text(self.dir / f"{name}_results_{loop}.csv", df.to_csv(index=False))
            atomic_write_text(self.dir / f"{name}_per_instance_{loop}.csv", per_instance(df).to_csv(index=False))
        return saved

    def save_phoenix(self, loop: int, experiments: dict) -> None:
        """`phoenix_<loop>.json`: what the loop logged to Phoenix (`PhoenixLog`): ids and URLs ({} with it off)."""
        atomic_write_text(self.dir / f"phoenix_{loop}.json", json.dumps(experiments, indent=1, default=str))

    def save_loop(self, loop: int, ruleset: str, new_ruleset: str, results: dict[str, pd.DataFrame], optimizer) -> str:
        """Record the loop: optimizer calls, rules (delta mode), leaks, the history row, then the ruleset
        file, written last because it marks the loop as finished. Returns the new ruleset."""
        calls = [c for c in optimizer.calls if c.loop == loop]
        atomic_write_text(self.dir / f"optimizer_calls_{loop}.json", json.dumps([asdict(c) for c in calls], indent=1))
        if optimizer.mode == "delta":
            optimizer.save_rules(self.dir / f"rules_{loop}.json")
        train = results["train"].drop_duplicates("instance_id")
        known = [c for c in ("instance_id", "repo", "FAIL_TO_PASS", "mined_from") if c in self.splits["train"]]
        leaks = find_leaks(new_ruleset, train.merge(self.splits["train"][known], on="instance_id"))
        atomic_write_text(self.dir / f"leaks_{loop}.csv", leaks.to_csv(index=False))
        row = self._history_row(loop, ruleset, results, calls, leaks) | self._selection_row(
            loop, ruleset, new_ruleset, results
        )
        row["operational"] = json.dumps(self.config.operational() | {"workers": self.workers or self.config.workers})
        atomic_write_text(self.dir / f"loop_{loop}.json", json.dumps(row, indent=1))
        text = ruleset_file_text(new_ruleset, row, loop)
        atomic_write_text(self.rulesets_dir / f"ruleset_{loop}.txt", text)
        self.rows.append(row | {"resumed": False})
        print(
            f"loop {loop}: " + ", ".join(f"{n} {accuracy(df):.3f} ({errors(df)} errors)" for n, df in results.items())
        )
        return new_ruleset

    def _history_row(self, loop: int, ruleset: str, results: dict, calls: list, leaks: pd.DataFrame) -> dict:
        all_rows = pd.concat(results.values())
        train = results["train"]
        return {
            "loop": loop,
            **{f"{name}_accuracy": accuracy(df) for name, df in results.items()},
            **{f"{name}_size": len(df) for name, df in results.items()},
            **{f"{name}_scored": len(scored(df)) for name, df in results.items()},
            **{f"{name}_errors": errors(df) for name, df in results.items()},
            "agent_llm_calls": int(all_rows["llm_calls"].sum()),
            "agent_tokens": int(all_rows[["prompt_tokens", "completion_tokens"]].sum().sum()),
            "agent_cost_usd": known_sum(all_rows["cost_usd"]),
            "judge_tokens": int(train["judge_prompt_tokens"].sum() + train["judge_completion_tokens"].sum()),
            "judge_cost_usd": known_sum(train["judge_cost_usd"]),
            "optimizer_tokens": int(sum(c.prompt_tokens + c.completion_tokens for c in calls)),
            "optimizer_cost_usd": known_sum([c.cost_usd for c in calls]),
            "leaky_rules": int(leaks["rule"].nunique()) if len(leaks) else 0,
            "ruleset": ruleset,
        }

    # -- candidates and selection (see cookbook/loop/selection.py: the loop that runs a candidate scores it) -
    def candidates(self, loop: int, ruleset: str, results: dict[str, pd.DataFrame | None]) -> list[Candidate]:
        """Every ruleset run up to `loop`, with its results: the earlier loops' from their files (the ruleset
        each ran is in its history row), `loop`'s from `ruleset` and `results`."""
        ran = {int(row["loop"]): row["ruleset"] for row in self.rows if row["loop"] < loop}
        found = load_results(self.config.run_name, self.dir.parent)
        earlier = [Candidate(k, ran[k], found[k]) for k in sorted(ran) if k in found]
        return [*earlier, Candidate(loop, ruleset, {s: df for s, df in results.items() if df is not None})]

    def select(self, loop: int, ruleset: str, results: dict[str, pd.DataFrame | None], optimizer=None) -> Candidate:
        """Choose, by the configured policy (`selection`), the candidate the ruleset learned in `loop` grows
        from, among the rulesets run so far (`ruleset` with `results`: this loop's). Returns the candidate:
        optimize its ruleset from its `train` results. With the `optimizer`, prepares it to grow from that
        candidate: the rulesets already grown from it, with their scores, are its `tried` (so growing from the
        same candidate twice is not the same request); in delta mode its rules become the candidate's."""
        candidates = self.candidates(loop, ruleset, results)
        choice = make_selection(self.config.selection, self.config.seed)(candidates, loop)
        self.choices[loop] = choice
        parent = next(c for c in candidates if c.loop == choice.parent)
        if optimizer is not None:  # the ruleset learned in loop k (grown from row k's parent) ran in loop k + 1
            grown = [row["loop"] + 1 for row in self.rows if row.get("grown_from") == parent.loop]
            optimizer.tried = [
                (
                    c.ruleset,
                    f"tried in loop {c.loop}: {choice.on} {c.accuracy(choice.on):.3f} (this one: "
                    f"{parent.accuracy(choice.on):.3f})",
                )
                for c in candidates
                if c.loop in grown
            ]
        if optimizer is not None and optimizer.mode == "delta":
            rules_file = self.dir / f"rules_{parent.loop - 1}.json"  # the rules learned in the loop before it
            if parent.loop > 0 and rules_file.exists():
                optimizer.load_rules(rules_file)
            if render_rules(optimizer.rules) != parent.ruleset:
                optimizer.rules = parse_rules(parent.ruleset, parent.loop)
        print(f"loop {loop}: {choice.text()}")
        return parent

    def selection_metadata(self, loop: int) -> dict:
        """The selection made in `loop`, for its Phoenix Prompt version and experiments ({} before it is made)."""
        choice = self.choices.get(loop)
        return choice.as_dict() if choice else {}

    def optimizer_options(self) -> dict:
        """PromptLearningOptimizer's keyword arguments for this run: its mode and the ruleset's caps."""
        c = self.config
        return dict(
            mode=c.optimizer_mode, max_ruleset_tokens=c.max_ruleset_tokens, drop_unhelpful_after=c.drop_unhelpful_after
        )

    def _selection_row(self, loop: int, ruleset: str, new_ruleset: str, results: dict) -> dict:
        """The history row's selection (`latest` when the loop made none) and the ruleset's token lengths:
        `ruleset_tokens` of the ruleset the loop ran (beside its accuracies), `learned_ruleset_tokens`."""
        choice = self.choices.get(loop) or Latest()(self.candidates(loop, ruleset, results), loop)
        meta, model = choice.as_dict(), self.config.agent_model
        return {
            **{k: meta[k] for k in ("selection", "selected_on", "grown_from")},
            "candidate_scores": json.dumps(meta["candidate_scores"]),
            "front": json.dumps(meta["front"]),
            "ruleset_tokens": ruleset_tokens(ruleset, model),
            "learned_ruleset_tokens": ruleset_tokens(new_ruleset, model),
        }

    def stop(self, loop: int, reason: str) -> None:
        """End the run before `loop`, with the reason in `stopped.json`."""
        self.stop_reason = reason
        atomic_write_text(self.dir / "stopped.json", json.dumps({"before_loop": loop, "reason": reason}))
        print(f"stopped before loop {loop}: {reason}")

    def finish(self) -> pd.DataFrame:
        """Write `summary.csv` and `report.json` (the best loop, chosen on validation, else train, and its
        ruleset against the empty one on test with the paired exact test) and `best_ruleset.txt`."""
        history = self.history
        atomic_write_text(self.dir / "summary.csv", history.to_csv(index=False))
        if not len(history):
            return history
        best = select_best(history)
        finished = load_results(self.config.run_name, self.dir.parent)
        report = {
            "best_loop": best,
            "chosen_on": "validation" if len(self.splits["validation"]) else "train",
            "best_ruleset": history.loc[history["loop"] == best, "ruleset"].iloc[0],
            "stopped": self.stop_reason,
            "selection": self.config.selection,
            "grown_from": {str(r["loop"]): r.get("grown_from") for r in history.to_dict("records")},
        }
        if "test" in finished.get(best, {}) and "test" in finished.get(0, {}):
            report["best_vs_empty_on_test"] = compare(finished[0]["test"], finished[best]["test"])
        atomic_write_text(self.dir / "report.json", json.dumps(report, indent=1))
        atomic_write_text(self.rulesets_dir / "best_ruleset.txt", report["best_ruleset"])
        return history


def load_results(run_name: str, results_root: Path | None = None) -> dict[int, dict[str, pd.DataFrame]]:
    """Every finished loop's results of a run: {loop: {"train": df, "test": df[, "validation": df]}}."""
    run_dir, _ = run_paths(run_name, results_root)
    found = {}
    for path in sorted(run_dir.glob("train_results_*.csv")):
        loop = int(path.stem.rsplit("_", 1)[1])
        found[loop] = {"train": pd.read_csv(path)}
        for split in ("validation", "test"):
            if (run_dir / f"{split}_results_{loop}.csv").exists():
                found[loop][split] = pd.read_csv(run_dir / f"{split}_results_{loop}.csv")
    return found
