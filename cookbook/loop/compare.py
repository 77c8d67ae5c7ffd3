"""Compare optimizers on your data, in one run: rewrite against delta, and the selection policies, each
grown from the same loop-0 agent runs, with paired statistics on the same test instances.

    table = compare_optimizers("my-run", loops=3)      # python -m cookbook compare --run-name my-run

Each variant (an optimizer mode and a selection policy) is a run of its own, `<run>-cmp-<mode>-<policy>`,
made by executing the notebook headless with the base run's configuration but that mode, that policy,
`loops` loops and Phoenix off — the same loop, never a second copy of it. Every variant keeps its agent
runs where the base run does (`agent_runs_dir`), found by what made them, so a ruleset any of them (or the
base run) already ran is never run again:

- loop 0 runs the empty ruleset for every variant: the base run's stored agent runs, the cached judge
  replies — no new agent run, no new judge call;
- loop 0's learned ruleset depends only on the mode (there is one candidate, so every policy picks it):
  loop 1 runs at most one new ruleset per mode;
- from loop 2 on, the policies can pick different parents: at most one new ruleset per variant and loop.

So the comparison costs at most `modes × (1 + policies × (loops − 2))` rulesets' worth of agent runs (each
as many as one loop of the base run: train + validation + test × attempts), plus their judge and optimizer
calls; `comparison_cost` prints the bound in runs and, at loop 0's rate, tokens and dollars. Identical
rulesets (two policies picking the same parent) are run once.

The table has one row per variant: the accuracy on test of the ruleset its last loop ran and of its best
candidate (chosen on validation, else train, never test), the paired comparison of that best candidate
with the empty ruleset and with the reference variant (the first, by default the cookbook's
rewrite/latest) on the same test instances — instances fixed and broken, the exact McNemar p-value
(`cookbook.stats.compare`) — the length of its last ruleset in tokens, and the agent runs it added.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from cookbook.files import atomic_write_text
from cookbook.loop.config import LoopConfig
from cookbook.loop.run import load_results, run_paths, saved_config
from cookbook.loop.selection import select_best
from cookbook.notebook import execute_notebook
from cookbook.paths import cookbook_dir
from cookbook.seams import ConfigurationError
from cookbook.stats import accuracy, compare

MODES = ("rewrite", "delta")
SELECTIONS = ("latest", "best", "pareto")


def base_config(run_name: str) -> LoopConfig:
    """The saved configuration of a run whose loop 0 is finished; ConfigurationError otherwise."""
    config = saved_config(run_name)
    if config is None or not (run_paths(run_name)[1] / "ruleset_0.txt").exists():
        raise ConfigurationError(
            f"compare: run {run_name!r} has no finished loop 0 to compare from; run it first: "
            f"python -m cookbook run --run-name {run_name} --loops 1"
        )
    return config


def variant_config(base: LoopConfig, mode: str, selection: str, loops: int) -> LoopConfig:
    """The configuration of one variant: the base run's, with this mode, policy and number of loops."""
    name = f"{base.run_name}-cmp-{mode}-{selection}"
    update = {"run_name": name, "optimizer_mode": mode, "selection": selection, "loops": loops, "phoenix": False}
    return LoopConfig.parse(base.model_dump() | update)


def check_compare_loops(loops: int) -> None:
    """ConfigurationError unless a comparison of `loops` loops can run (loop 1 runs the first learned ruleset)."""
    if loops < 2:
        raise ConfigurationError(f"compare: loops = {loops}: at least 2 (loop 1 runs the first learned ruleset)")


def comparison_cost(run_name: str, loops: int = 3, modes=MODES, selections=SELECTIONS) -> str:
    """The comparison's cost bound: new rulesets, agent runs, and tokens and dollars at loop 0's rate."""
    check_compare_loops(loops)  # never estimate a comparison that would be refused
    results_dir, _ = run_paths(run_name)
    base = base_config(run_name)
    row = json.loads((results_dir / "loop_0.json").read_text())
    runs_per_ruleset = sum(int(row.get(f"{split}_size", 0)) for split in ("train", "validation", "test"))
    rulesets = len(modes) * (1 + len(selections) * max(0, loops - 2)) if loops > 1 else 0
    tokens = rulesets * int(row.get("agent_tokens", 0))
    cost = row.get("agent_cost_usd")
    dollars = f"~${rulesets * cost:,.2f}" if cost is not None else "$n/a (no prices)"
    return (
        f"compare: {len(modes) * len(selections)} variants ({', '.join(modes)} × {', '.join(selections)}), "
        f"{loops} loops each, from run {run_name!r} ({base.agent}, {base.agent_model}); loop 0 reuses its agent "
        f"runs. At most {rulesets} new rulesets to run: {rulesets * runs_per_ruleset} agent runs, ~{tokens:,} "
        f"agent tokens, {dollars} at loop 0's rate, plus their judge and optimizer calls."
    )


def _agent_runs(path) -> int:
    return sum(1 for _ in path.glob("*/*/agent.json"))


def run_variant(base: LoopConfig, mode: str, selection: str, loops: int) -> int:
    """Run one variant (the notebook, headless) on the base run's stored agent runs; return how many agent
    runs it added."""
    config = variant_config(base, mode, selection, loops)
    variant_dir, _ = run_paths(config.run_name)
    variant_dir.mkdir(parents=True, exist_ok=True)
    shared = Path(config.agent_runs_dir) if config.agent_runs_dir else cookbook_dir() / "agent_runs"
    before = _agent_runs(shared)
    parameters = {**config.to_parameters(), "STOP_PHOENIX_AT_END": False, "COMPARE": False}
    execute_notebook(parameters, variant_dir / "notebook.ipynb", log_output=False)
    return _agent_runs(shared) - before


def _paired(before: pd.DataFrame | None, after: pd.DataFrame | None, prefix: str) -> dict:
    if before is None or after is None:
        return {f"{prefix}_fixed": None, f"{prefix}_broken": None, f"{prefix}_p": None}
    result = compare(before, after)
    return {f"{prefix}_fixed": result["fixed"], f"{prefix}_broken": result["broken"], f"{prefix}_p": result["p_value"]}


def variant_row(name: str, reference_test: pd.DataFrame | None) -> tuple[dict, pd.DataFrame | None]:
    """One variant's row of the table, and the test results of its best candidate."""
    results_dir, _ = run_paths(name)
    config = saved_config(name)
    history = pd.DataFrame([json.loads(p.read_text()) for p in sorted(results_dir.glob("loop_*.json"))])
    history = history.sort_values("loop").reset_index(drop=True)
    found = load_results(name)
    last, best = int(history["loop"].max()), select_best(history)
    best_test, last_test = found[best].get("test"), found[last].get("test")
    row = {
        "variant": f"{config.optimizer_mode}/{config.selection}",
        "loops": len(history),
        "last_test_accuracy": accuracy(last_test) if last_test is not None else None,
        "best_loop": best,
        "best_test_accuracy": accuracy(best_test) if best_test is not None else None,
        **_paired(found[0].get("test"), best_test, "vs_empty"),
        **_paired(reference_test, best_test, "vs_reference"),
        "last_ruleset_tokens": int(history.iloc[-1].get("learned_ruleset_tokens", 0) or 0),
    }
    return row, best_test


def compare_optimizers(
    run_name: str, loops: int = 3, modes=MODES, selections=SELECTIONS, progress: bool = True
) -> pd.DataFrame:
    """Run every variant (mode × selection policy) from run `run_name`'s loop 0 and tabulate them (see the
    module); the table is also written to `act_results/<run_name>/comparison.csv`."""
    base = base_config(run_name)
    check_compare_loops(loops)
    print(comparison_cost(run_name, loops, modes, selections))
    rows, reference = [], None
    variants = list(itertools.product(modes, selections))
    for mode, selection in tqdm(variants, desc="variants", disable=not progress):
        added = run_variant(base, mode, selection, loops)
        row, best_test = variant_row(variant_config(base, mode, selection, loops).run_name, reference)
        reference = best_test if reference is None else reference
        rows.append(row | {"new_agent_runs": added})
    table = pd.DataFrame(rows)
    atomic_write_text(run_paths(run_name)[0] / "comparison.csv", table.to_csv(index=False))
    return table
