"""Do rules learned with one agent help another? `TRANSFER_AGENTS` (notebook), `--transfer-agents` (CLI).

After a run's loops, the notebook runs each transfer agent with the run's chosen ruleset (the selection
policy's best: on validation, else train) and with the empty ruleset on the run's test split (`run_act`,
with the run's harness, limits and store of agent runs: a pair already run is read back, never paid again).
Each pair is compared on the instances scored in both with the paired exact test (`cookbook.stats.compare`);
the run's own agent is the first row, from its loop-0 and best-loop test results. The table is
`act_results/<run>/transfer.csv`.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import pandas as pd

from cookbook.files import atomic_write_text
from cookbook.loop.endpoints import role_endpoints
from cookbook.loop.run import OptimizationRun, load_results
from cookbook.loop.selection import select_best
from cookbook.stats import compare, errors

COLUMNS = ["agent", "model", "ruleset_loop", "instances", "empty", "ruleset", "fixed", "broken", "p_value", "errors"]
COLUMNS += ["rules_applied"]  # the share of the ruleset's runs whose every request held it (the gateway's record)


def chosen(run: OptimizationRun) -> tuple[int, str]:
    """(loop, ruleset) of the run's chosen ruleset: the one the loop `select_best` picks ran."""
    history = run.history
    best = select_best(history)
    return best, history.loc[history["loop"] == best, "ruleset"].iloc[0]


def pair_row(agent: str, model: str, loop: int, empty: pd.DataFrame, learned: pd.DataFrame) -> dict:
    paired = compare(empty, learned)
    return {
        "agent": agent,
        "model": model,
        "ruleset_loop": loop,
        "instances": paired["instances"],
        "empty": paired["accuracy_before"],
        "ruleset": paired["accuracy_after"],
        "fixed": paired["fixed"],
        "broken": paired["broken"],
        "p_value": paired["p_value"],
        "errors": errors(empty) + errors(learned),
        "rules_applied": float(learned["rules_applied"].astype(float).mean()) if len(learned) else math.nan,
    }


class TransferTable:
    """The transfer table of a run: its own agent first (its loop-0 and chosen loop's test results), then
    a row per other agent's pair — the empty ruleset and the chosen one, `rulesets` — on the test split."""

    def __init__(self, run: OptimizationRun):
        self.run = run
        self.loop, self.ruleset = chosen(run)
        c, own = run.config, load_results(run.config.run_name, run.dir.parent)
        self.rows = [
            pair_row(f"{c.agent} (learned with)", c.agent_model, self.loop, own[0]["test"], own[self.loop]["test"])
        ]

    @property
    def rulesets(self) -> dict[str, str]:
        """What each other agent runs: {"empty": "", "ruleset": the chosen ruleset}; {} when the chosen one is
        the empty ruleset (nothing learned to transfer)."""
        return {"empty": "", "ruleset": self.ruleset} if self.ruleset.strip() else {}

    def add(self, agent: str, model: str, pair: dict[str, pd.DataFrame]) -> None:
        self.rows.append(pair_row(agent, model, self.loop, pair["empty"], pair["ruleset"]))

    def save(self) -> pd.DataFrame:
        """The table, written to `act_results/<run>/transfer.csv`."""
        table = pd.DataFrame(self.rows, columns=COLUMNS)
        atomic_write_text(self.run.dir / "transfer.csv", table.to_csv(index=False))
        return table


@contextmanager
def agent_endpoint(run: OptimizationRun, agent: str, model: str | None):
    """The endpoint of another agent for this run, as the run's own is made (`role_endpoints`): its model
    (None: the run's agent model; a Claude model for claude-code on Anthropic's API), its API kind from the
    environment or the agent's default; offline, the demo's scripted server, stopped afterwards."""
    c = run.config
    config = c.model_copy(update={"agent": agent, "agent_api": None})
    instances = run.instances.to_dict("records")
    endpoints = role_endpoints(model or c.agent_model, c.judge_model, c.optimizer_model, instances, config, True)
    try:
        yield endpoints.agent
    finally:
        endpoints.stop()


def markdown(table: pd.DataFrame) -> str:
    """The table as docs/learning.md shows it."""
    lines = [
        "| agent | model | instances | no rules | learned rules | fixed | broken | McNemar p | rules on the wire |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in table.to_dict("records"):
        empty, learned = (f"{v:.3f}" if not math.isnan(v) else "n/a" for v in (r["empty"], r["ruleset"]))
        lines.append(
            f"| {r['agent']} | {r['model']} | {r['instances']} | {empty} | {learned} | {r['fixed']} | "
            f"{r['broken']} | {r['p_value']:.3f} | {r['rules_applied']:.0%} |"
        )
    return "\n".join(lines)
