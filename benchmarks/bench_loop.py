"""A loop's agent runs and judging with a realistic model, before and after one pool for every split.

The real Cline binary runs against a scripted model whose latency per call is log-normal (median 2 s),
with 10-20 calls per run and two of the fifteen tasks hanging until the run's timeout; a scripted judge
answers in ~3 s. Train (8 tasks) and test (7 tasks), two attempts each, 8 workers:

- before: train in its own pool, then test in another, then judging (each split waits for its slowest run);
- after:  one pool for both splits, each training row judged as soon as it is scored.

Both run after a first loop (not timed) whose runs tell run_act how long each task took, so the longest
start first (`run_act.longest_first`), as in every loop of a real run but the first.

Prints each variant's loop wall time against the ideal — total agent time / workers, or the longest run if
larger — as a ratio, the CPU-bound floor (CPU-seconds used / cores), and per agent run: peak memory (all
processes of its group) and CPU-seconds.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

from cookbook.data import load_instances
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, turn
from cookbook.seams import Endpoint
from evaluate import Judge, evaluate_results
from run_act import run_act

WORKERS, ATTEMPTS, TIMEOUT_S, MEDIAN_S, SIGMA = 8, 2, 60.0, 2.0, 0.6
JUDGEMENT = json.dumps({"correctness": "incorrect", "explanation": "It missed a case.", "improvement": "Test more."})


def latency(*key) -> float:
    """A log-normal latency, the same for the same call in both variants."""
    return random.Random(str(key)).lognormvariate(math.log(MEDIAN_S), SIGMA)


def make_agent(instances: list[dict], hanging: set[str]):
    """10-20 calls per task (look around, then the gold edits, then done); the hanging tasks never finish."""

    def script(request: dict) -> Reply:
        inst, n = task_of(request, instances), turn(request)
        iid = inst["instance_id"]
        if iid in hanging and n == 3:
            return Reply(hang=True)
        calls = random.Random(iid).randint(10, 20)
        delay = latency(iid, n)
        if n < calls - 2:
            return Reply(tool_calls=[ToolCall("read_files", {"files": [{"path": "README.md"}]})], delay=delay)
        if n == calls - 2:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request), delay=delay)
        return Reply(content="Fixed.", delay=delay)

    return script


# What marks an agent run's processes: Cline's own flag. Since the agent runs in namespaces or a container of
# its own, its command line names no host path of the run (a runs folder matched nothing and read 0 MB).
AGENT_MARKER = "--data-dir"


class MemorySampler(threading.Thread):
    """Peak resident memory of one process group (one agent run) among processes mentioning `marker`."""

    def __init__(self, marker: str):
        super().__init__(daemon=True)
        self.marker, self.peak_kb, self.done = marker.encode(), 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            groups: dict[int, int] = {}
            for proc in Path("/proc").iterdir():
                try:
                    if not proc.name.isdigit() or self.marker not in (proc / "cmdline").read_bytes():
                        continue
                    pgid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
                    status = (proc / "status").read_text().splitlines()
                    rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
                except (OSError, StopIteration, ValueError, IndexError):
                    continue
                groups[pgid] = groups.get(pgid, 0) + rss
            self.peak_kb = max([self.peak_kb, *groups.values()])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def variant(name: str, splits: dict, agent_url: str, judge_url: str, runs_dir: Path) -> dict:
    options = dict(endpoint=Endpoint(agent_url, "bench", "bench-agent"), attempts=ATTEMPTS, timeout=TIMEOUT_S)
    options |= dict(runs_dir=runs_dir, progress=False)
    ruleset = f"- the {name} loop\n"  # a ruleset of its own: its runs are new, the earlier loop's are history
    judge_endpoint = Endpoint(judge_url, "bench", "bench-judge")
    sampler = MemorySampler(AGENT_MARKER)
    sampler.start()
    cpu, start = children_cpu(), time.perf_counter()
    if name == "before":
        results = {split: run_act("bundled", ids, split, ruleset, WORKERS, **options) for split, ids in splits.items()}
        evaluate_results(results["train"], endpoint=judge_endpoint, cache=False, progress=False)
    else:
        with Judge(endpoint=judge_endpoint, cache=False) as judge:
            results = run_act("bundled", splits, "one pool", ruleset, WORKERS, on_row=judge.on_row, **options)
            evaluate_results(results["train"], judge=judge, progress=False)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    sampler.done.set()
    durations = [d for df in results.values() for d in df["duration_s"]]
    return {"wall": wall, "cpu": cpu, "durations": durations, "peak_mb": sampler.peak_kb / 1024}


def report(name: str, got: dict) -> None:
    ideal = max(sum(got["durations"]) / WORKERS, max(got["durations"]))
    cores = os.cpu_count() or 1
    per_run = got["cpu"] / len(got["durations"])
    print(
        f"  {name:6}  wall {got['wall']:6.1f} s   ideal {ideal:6.1f} s   wall/ideal {got['wall'] / ideal:.2f}   "
        f"CPU-bound floor {got['cpu'] / cores:5.1f} s ({cores} cores)   per run: {per_run:.1f} CPU-s, "
        f"peak {got['peak_mb']:.0f} MB"
    )


def main() -> None:
    instances = load_instances("bundled").to_dict("records")
    ids = [inst["instance_id"] for inst in instances]
    splits = {"train": ids[:8], "test": ids[8:15]}
    hanging = {ids[3], ids[10]}
    root = Path(tempfile.mkdtemp(prefix="bench-loop-"))
    try:
        with (
            ScriptedLLM(make_agent(instances, hanging), models={"bench-agent"}) as agent,
            ScriptedLLM(
                lambda r: Reply(content=JUDGEMENT, delay=latency("judge", len(str(r)))), models={"bench-judge"}
            ) as judge,
        ):
            variant("first", splits, agent.base_url, judge.base_url, root)  # environments and history, untimed
            print(f"loop: {sum(map(len, splits.values())) * ATTEMPTS} agent runs, {WORKERS} workers, log-normal "
                  f"model latency (median {MEDIAN_S} s), 10-20 calls per run, {len(hanging) * ATTEMPTS} runs hit the "
                  f"{TIMEOUT_S:.0f} s timeout; judge ~{MEDIAN_S} s per row")  # fmt: skip
            for name in ("before", "after"):
                got = variant(name, splits, agent.base_url, judge.base_url, root)
                report(name, got)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
