"""What one agent run holds with the docker harness, measured: the agent's process group (the real Cline
binary and its guard, living in the instance container where its tests run too), that container, and the
scoring: swebench's run_evaluation process and its container — memory and CPU-seconds.

Bundled tasks, one agent run at a time, a scripted model that runs the tests through the shims, applies the
gold edits and finishes; processes are sampled from /proc every 0.2 s, containers from their cgroups (v1
or v2: their peak, page cache included, which the kernel can take back). Prints each part's peak, what a
run holds at its peak (the agent in its instance container; then the scoring, which starts once the
instance container is gone), against the memory counted per local run, and the CPU-seconds per run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.bench_loop import AGENT_MARKER, MemorySampler, children_cpu
from cookbook.data import load_instances
from cookbook.docker_engine import OWNER_LABEL, owner
from cookbook.images import with_spec
from cookbook.machine import AGENT_RUN_GB
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, turn
from cookbook.seams import Endpoint
from run_act import run_act

INSTANCES = 4
TESTS = "python -m pytest -q 2>&1 | tail -3"


def script(instances: list[dict]):
    def answer(request: dict) -> Reply:
        inst = task_of(request, instances)
        if turn(request) == 0:
            return Reply(tool_calls=[ToolCall("run_commands", {"commands": [TESTS]})])
        if turn(request) == 1:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
        return Reply(content="Fixed, and the tests pass.")

    return answer


def cgroup(container_id: str, controller: str) -> Path | None:
    """The container's cgroup folder for `controller` (cgroup v1), or its unified folder (v2)."""
    for path in (
        Path(f"/sys/fs/cgroup/{controller}/docker/{container_id}"),
        Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope"),
    ):
        if path.is_dir():
            return path
    return None


def peak_bytes(container_id: str) -> int:
    """The container's peak memory so far (its cgroup's own count: page cache included)."""
    folder = cgroup(container_id, "memory")
    for name in ("memory.max_usage_in_bytes", "memory.peak"):
        if folder is not None and (folder / name).exists():
            return int((folder / name).read_text())
    return 0


def cpu_seconds(container_id: str) -> float:
    folder = cgroup(container_id, "cpuacct")
    if folder is not None and (folder / "cpuacct.usage").exists():
        return int((folder / "cpuacct.usage").read_text()) / 1e9
    folder = cgroup(container_id, "cpu")
    if folder is not None and (folder / "cpu.stat").exists():
        usage = re.search(r"usage_usec (\d+)", (folder / "cpu.stat").read_text())
        return int(usage.group(1)) / 1e6 if usage else 0.0
    return 0.0


class ContainerSampler(threading.Thread):
    """Peak resident memory and last CPU-seconds of this process's containers: the testbed's (labelled with
    this process as owner) and swebench's (named after a run id that holds this process's id)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.done = threading.Event()
        self.peak: dict[str, int] = {}
        self.cpu: dict[str, float] = {}
        self.kind: dict[str, str] = {}

    def ours(self) -> dict[str, str]:
        listed = subprocess.run(
            ["docker", "ps", "--no-trunc", "--format", '{{.ID}} {{.Names}} {{.Label "' + OWNER_LABEL + '"}}'],
            capture_output=True,
            text=True,
        ).stdout.split("\n")
        found = {}
        for line in filter(None, listed):
            cid, name, *label = line.split()
            if label == [owner()]:
                found[cid] = "instance"
            elif name.startswith("sweb.eval.") and f"-{os.getpid()}-" in name:
                found[cid] = "scoring"
        return found

    def run(self) -> None:
        while not self.done.wait(0.2):
            for cid, kind in self.ours().items():
                self.kind[cid] = kind
                self.peak[cid] = max(self.peak.get(cid, 0), peak_bytes(cid))
                self.cpu[cid] = max(self.cpu.get(cid, 0.0), cpu_seconds(cid))

    def per_kind(self, kind: str) -> tuple[list[int], list[float]]:
        ids = [cid for cid, k in self.kind.items() if k == kind]
        return [self.peak[cid] for cid in ids], [self.cpu[cid] for cid in ids]


def measure(harness: str, instances: list[dict], root: Path) -> dict:
    """One agent run at a time on `instances` with `harness`: peaks (MB) and CPU-seconds per run."""
    with ScriptedLLM(script(instances), models={"bench-agent"}) as llm:
        agent, containers = MemorySampler(AGENT_MARKER), ContainerSampler()
        scoring = MemorySampler("cookbook.harnesses.offline_evaluation")  # swebench's run_evaluation, network off
        for sampler in (agent, containers, scoring):
            sampler.start()
        cpu, start = children_cpu(), time.perf_counter()
        df = run_act(
            "bundled",
            [row["instance_id"] for row in instances],
            f"{harness} runs",
            "",
            1,
            harness=harness,
            endpoint=Endpoint(llm.base_url, "bench", "bench-agent"),
            runs_dir=root / harness,
            progress=False,
        )
        wall, cpu = time.perf_counter() - start, children_cpu() - cpu
        time.sleep(0.5)
        for sampler in (agent, containers, scoring):
            sampler.done.set()
    assert (df["outcome"] == "resolved").all(), df[["instance_id", "outcome", "error", "score_reason"]]
    (instance_mb, instance_cpu), (scoring_mb, scoring_cpu) = (
        containers.per_kind("instance"),
        containers.per_kind("scoring"),
    )
    mb, runs = 1024**2, len(df)
    return {
        "wall": wall,
        "agent": agent.peak_kb / 1024,
        "instance": max(instance_mb, default=0) / mb,
        "run_evaluation": scoring.peak_kb / 1024,
        "scoring": max(scoring_mb, default=0) / mb,
        "cpu": (cpu + sum(instance_cpu) + sum(scoring_cpu)) / runs,
    }


def main() -> None:
    instances = load_instances("bundled").iloc[:INSTANCES].to_dict("records")
    for row in instances:
        with_spec(row)  # the images, built or found, not timed
    root = Path(tempfile.mkdtemp(prefix="bench-docker-run-"))
    try:
        measure("local", instances[:1], root / "warm")  # the local virtualenvs, not measured
        local, docker = measure("local", instances, root), measure("docker", instances, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    # The agent lives in its instance's container, whose count includes it (its RSS adds the pages of its binary
    # it shares): the larger of the two, not their sum; then the scoring's process and container.
    held = max(docker["agent"], docker["instance"], docker["run_evaluation"] + docker["scoring"])
    print(f"{INSTANCES} bundled tasks, one agent run at a time (the real Cline; tests run, gold edits, done)")
    print(f"  local harness: agent process group {local['agent']:.0f} MB at its peak, {local['cpu']:.1f} CPU-s per run")
    print(f"  docker harness: agent process group {docker['agent']:.0f} MB inside its instance container "
          f"{docker['instance']:.0f} MB; then the scoring: run_evaluation {docker['run_evaluation']:.0f} MB and its "
          f"container {docker['scoring']:.0f} MB; {docker['cpu']:.1f} CPU-s per run")  # fmt: skip
    print(f"  a docker run holds {held:.0f} MB at its peak ({held / 1024 / AGENT_RUN_GB:.2f}x the {AGENT_RUN_GB} GB "
          f"counted per run) and uses {docker['cpu'] / local['cpu']:.1f}x a local run's CPU-seconds")  # fmt: skip


if __name__ == "__main__":
    main()
