"""run_act throughput: 24 agent runs, 8 workers, a scripted model with 0.5 s latency per LLM call.

Prints the wall time over the ideal (runs × calls × latency / workers) as a ratio, and the peak
memory of one agent run (all processes of its process group: the node wrapper and the Cline binary).
Each Cline process burns ~3 CPU-seconds starting up, so on a small machine the wall time is bound
by CPU, not by the model's latency: the CPU-bound floor (CPU-seconds used / cores) is printed too.
The real Cline binary runs against the scripted server; patches are scored by the local harness.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

from cookbook.data import load_instances
from cookbook.llm.scripted_server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, turn
from cookbook.seams import Endpoint
from run_act import run_act

RUNS, WORKERS, LATENCY, CALLS = 24, 8, 0.5, 5


def make_script(instances: list[dict]):
    """CALLS calls per run: look around (CALLS - 2 turns), make the gold edits, say done."""

    def script(request: dict) -> Reply:
        inst, n = task_of(request, instances), turn(request)
        if n < CALLS - 2:
            return Reply(tool_calls=[ToolCall("read_files", {"files": [{"path": "README.md"}]})])
        if n == CALLS - 2:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
        return Reply(content="Fixed.")

    return script


class MemorySampler(threading.Thread):
    """Samples the resident memory of every process whose command line mentions `marker`, grouped by
    process group (one group per agent run); keeps the peak of one group."""

    def __init__(self, marker: str):
        super().__init__(daemon=True)
        self.marker = marker.encode()
        self.peak_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            groups: dict[int, int] = {}
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    if self.marker not in (proc / "cmdline").read_bytes():
                        continue
                    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    pgid = int(fields[2])
                    rss = next(
                        int(line.split()[1])
                        for line in (proc / "status").read_text().splitlines()
                        if line.startswith("VmRSS:")
                    )
                except (OSError, StopIteration, ValueError, IndexError):
                    continue
                groups[pgid] = groups.get(pgid, 0) + rss
            if groups:
                self.peak_kb = max(self.peak_kb, max(groups.values()))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    instances = load_instances("bundled").to_dict("records")
    ids = [inst["instance_id"] for inst in instances[: RUNS // 2]]
    runs_dir = Path(tempfile.mkdtemp(prefix="bench-run-act-"))
    try:
        with ScriptedLLM(make_script(instances), models={"scripted-model"}, latency=LATENCY) as llm:
            options = dict(workers=WORKERS, endpoint=Endpoint(llm.base_url, "bench", "scripted-model"), progress=False)
            # warm-up: environments and the provider template are built once, outside the measurement
            run_act("bundled", ids, "warmup", "", runs_dir=runs_dir / "warmup", **options)
            sampler = MemorySampler(str(runs_dir / "measured"))
            sampler.start()
            cpu_before = _children_cpu()
            start = time.perf_counter()
            df = run_act("bundled", ids, "bench", "- a rule\n", runs_dir=runs_dir / "measured", attempts=2, **options)
            wall = time.perf_counter() - start
            cpu = _children_cpu() - cpu_before
            sampler.done.set()
        calls = int(df["llm_calls"].sum())
        ideal = len(df) * CALLS * LATENCY / WORKERS
        print(
            f"run_act: {len(df)} runs, {WORKERS} workers, {LATENCY} s per LLM call, {calls} calls "
            f"({(df['pass_or_fail'] == 'pass').sum()}/{len(df)} pass)"
        )
        print(f"  wall {wall:.1f} s   ideal {ideal:.1f} s   ratio wall/ideal {wall / ideal:.2f}  (target <= 1.15)")
        cores = os.cpu_count() or 1
        floor = cpu / cores
        print(
            f"  CPU used by agents and tests {cpu:.0f} s on {cores} cores: CPU-bound floor {floor:.1f} s "
            f"({cpu / len(df):.1f} CPU-s per run); wall/max(ideal, floor) {wall / max(ideal, floor):.2f}"
        )
        print(f"  per run: agent {df['duration_s'].mean():.1f} s mean, of which LLM latency {CALLS * LATENCY:.1f} s")
        print(f"  peak memory of one agent run (process group): {sampler.peak_kb / 1024:.0f} MB")
    finally:
        shutil.rmtree(runs_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
