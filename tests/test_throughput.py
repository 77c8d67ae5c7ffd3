"""One pool for every split, judging while the agents run, and workers that fit the machine — with the real
Cline against the scripted server."""

import json
import os
from datetime import datetime

import pandas as pd
import pytest

from cookbook.machine import AGENT_RUN_GB, choose_workers, default_workers, footprint, memory_fit
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, turn
from cookbook.seams import Endpoint
from evaluate import Judge, evaluate_results
from run_act import run_act

JUDGEMENT = json.dumps({"correctness": "correct", "explanation": "It fixed the bug.", "improvement": "Run tests."})


def stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


@pytest.mark.slow
def test_splits_share_one_pool_and_the_judge_starts_before_the_agents_end(bundled, tmp_path):
    instances = bundled.to_dict("records")
    slow, quick, test_one = (inst["instance_id"] for inst in instances[:3])

    def agent(request):
        inst, n = task_of(request, instances), turn(request)
        looks = 4 if inst["instance_id"] == slow else 0  # the straggler looks around four slow turns first
        if n < looks:
            return Reply(tool_calls=[ToolCall("run_commands", {"commands": ["ls"]})], delay=3)
        if n == looks:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
        return Reply(content="Fixed.")

    with (
        ScriptedLLM(agent, models={"agent-model"}) as agent_llm,
        ScriptedLLM(lambda r: Reply(content=JUDGEMENT), models={"judge-model"}) as judge_llm,
        Judge(endpoint=Endpoint(judge_llm.base_url, "k", "judge-model"), cache=False) as judge,
    ):
        results = run_act(
            "bundled",
            {"train": [slow, quick], "test": [test_one]},
            "pool",
            "",
            2,
            endpoint=Endpoint(agent_llm.base_url, "k", "agent-model"),
            runs_dir=tmp_path,
            on_row=judge.on_row,
            timeout=120,
            progress=False,
        )
        train = evaluate_results(results["train"], judge=judge, progress=False)
        judge_times = [r["time"] for r in judge_llm.requests]
    rows = pd.concat(results.values())
    assert set(results) == {"train", "test"} and (rows["outcome"] == "resolved").all()
    last_train_end = max(stamp(t) for t in results["train"]["finished_at"])
    assert stamp(results["test"]["started_at"].iloc[0]) < last_train_end  # the test split did not wait
    assert min(judge_times) < max(stamp(t) for t in rows["finished_at"])  # judging overlapped the agents
    assert len(judge_times) == 2 and train["explanation"].eq("It fixed the bug.").all()  # no row judged twice


def test_workers_follow_the_machine_and_a_users_larger_value_wins_with_a_warning():
    assert default_workers() >= 1
    fit = memory_fit()
    assert fit is None or default_workers() <= fit
    assert choose_workers(3) == 3
    if fit is not None:
        with pytest.warns(UserWarning, match=f"{(fit + 5) * AGENT_RUN_GB:.1f} GB"):
            assert choose_workers(fit + 5) == fit + 5


def test_a_docker_run_counts_what_it_holds_besides_its_agent():
    """A docker run's agent runs its tests in an instance container and is scored by a run_evaluation process
    and its container, with more CPU per run (make bench: benchmarks/bench_docker_run.py): fewer at once."""
    local, docker = footprint("local"), footprint("docker")
    assert docker.gb > local.gb == AGENT_RUN_GB and docker.per_core < local.per_core
    assert footprint("modal") == local and footprint(None) == local  # the scoring runs elsewhere
    assert default_workers("docker") <= default_workers("local")
    assert default_workers("docker") <= docker.per_core * (os.cpu_count() or 1)
    fit = memory_fit("docker")
    if fit is not None:
        with pytest.warns(UserWarning, match=f"{(fit + 5) * docker.gb:.1f} GB"):
            assert choose_workers(fit + 5, "docker") == fit + 5
