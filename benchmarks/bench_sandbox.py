"""What it costs per agent run to start the agent in the instance's container (the docker testbed), against
the design before it (the agent on this machine, the instance's container idling beside it for its tests)
and against the local testbed (namespaces of its own on this machine), printed as differences and ratios.

The real Cline binary on a bundled task, through the recording gateway, against a scripted model that
answers two turns (a command, then done) with a fixed latency, so the agent is alive long enough to be
measured. Per run, the median of a few:
- time: preparing the workspace (docker: /testbed copied out of the image as one commit, the container
  started; local: the checkout), opening the gateway where the agent is, the agent's run from start to
  exit, and the release (docker: the container removed);
- memory at its peak: every process of the run — the run's process group on this machine (the guard, the
  `docker exec` client or `unshare`, the agent and what it started) and, for docker, the container's own
  processes and its runtime shim — as resident memory (RSS), as its proportional share (PSS: shared pages
  such as the agent's 150 MB binary counted once across processes that map them) and as its private pages
  (what each more run in parallel adds: code such as the docker client's is shared by all runs);
- the CPU time of the agent's run (this process's children, and the container's cgroup).
On a machine shared with other work, the agent's wall time inside a container is longer than its CPU time
says: with cgroup v1's CPU scheduling every container together competes as one group against the busy
processes of the host. Its CPU time is the fair comparison there.
The goal of issue 21: under 2 s of overhead per run, and no more memory per run than before.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path

from cookbook.agents.cline import ClineAgent
from cookbook.data import load_instances
from cookbook.llm.gateway import Gateway
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, turn
from cookbook.seams import AgentTask, Endpoint
from cookbook.testbeds.docker import DockerTestbed
from cookbook.testbeds.local import LocalTestbed
from cookbook.testbeds.namespaces import Namespaces

REPEATS, LATENCY_S = 5, 1.0


def model(request: dict) -> Reply:
    if turn(request) == 0:
        return Reply(tool_calls=[ToolCall("run_commands", {"commands": ["python -c 'print(1)'"]})])
    return Reply(content="Done.")


class Sampler(threading.Thread):
    """Peak RSS, PSS and private memory (kB) of the processes of one run: the group led by the guard (found
    by `marker`, the workspace or the container, in its command line) and, for docker, the processes in the
    container's cgroup and its shim; and the CPU time the container's processes used (they are no children
    of this process)."""

    def __init__(self, marker: str, container: str = ""):
        super().__init__(daemon=True)
        self.marker, self.container = marker.encode(), container
        self.peak_rss = self.peak_pss = self.peak_private = 0
        self.container_cpu_s = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        usage = (
            [*Path("/sys/fs/cgroup").glob(f"cpuacct*/docker/{self.container}/cpuacct.usage")] if self.container else []
        )
        usage += (
            [*Path("/sys/fs/cgroup").glob(f"system.slice/docker-{self.container}.scope/cpu.stat")]
            if self.container
            else []
        )
        while not self.done.wait(0.2):
            for path in usage:  # cgroup v1 (ns) or v2 (usage_usec), read until the container goes
                try:
                    text = path.read_text()
                except OSError:
                    continue
                if path.name == "cpu.stat":
                    self.container_cpu_s = int(text.split("usage_usec")[1].split()[0]) / 1e6
                else:
                    self.container_cpu_s = int(text) / 1e9
            rss = pss = private = 0
            group = None
            procs = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
            for proc in procs:
                try:
                    cmdline = (proc / "cmdline").read_bytes()
                except OSError:
                    continue
                if b"guard.py" in cmdline and self.marker in cmdline:
                    group = proc.name
            for proc in procs:
                try:
                    stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    ours = group is not None and stat[2] == group
                    if self.container and not ours:
                        ours = self.container in (proc / "cgroup").read_text()
                        ours = ours or self.container.encode() in (proc / "cmdline").read_bytes()
                    if ours:
                        memory = dict(
                            line.split(":", 1) for line in (proc / "smaps_rollup").read_text().splitlines()[1:]
                        )
                        rss += int(memory["Rss"].split()[0])
                        pss += int(memory["Pss"].split()[0])
                        private += int(memory["Private_Clean"].split()[0]) + int(memory["Private_Dirty"].split()[0])
                except (OSError, ValueError, KeyError, IndexError):
                    continue
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.peak_private = max(self.peak_private, private)


class OnThisMachine(Namespaces):
    """The design before: the agent's process on this machine as it is (no namespaces, this machine's
    network), in the workspace on this machine, its container idling beside it."""

    def command(self, argv: list[str], env: dict[str, str], cwd: Path) -> tuple[list[str], dict[str, str]]:
        return argv, env


def one_run(testbed, agent: ClineAgent, gateway: Gateway, inst: dict, runs: Path, before: bool = False) -> dict:
    times = {}
    start = time.perf_counter()
    workspace = testbed.prepare(inst)
    times["prepare"] = time.perf_counter() - start
    container = workspace.sandbox.name if isinstance(testbed, DockerTestbed) else ""
    marker = container if container and not before else str(workspace.path)  # in the guard's command line
    if before:
        workspace.sandbox = OnThisMachine()
    run_dir = runs / uuid.uuid4().hex[:8]
    try:
        start = time.perf_counter()
        url = gateway.register(run_dir.name, run_dir / "transcript.jsonl")
        network = workspace.sandbox.network
        inside = gateway.serve_in(network) if network else None
        times["gateway"] = time.perf_counter() - start
        if container:
            from cookbook.docker_engine import client

            container = client().containers.get(container).id
        sampler = Sampler(marker, container)
        sampler.start()
        start = time.perf_counter()  # starting a process inside, alone: the sandbox's own cost
        command, env = workspace.sandbox.command(["true"], workspace.env, workspace.path)
        subprocess.run(command, env=env, cwd=workspace.path, check=True)
        times["launch"] = time.perf_counter() - start
        task = AgentTask(inst, workspace, "", Endpoint(url, "via-gateway", "bench-agent"), run_dir, 120)
        start, cpu = time.perf_counter(), children_cpu()
        result = agent.run(task)
        times["agent"] = time.perf_counter() - start
        sampler.done.set()
        sampler.join()
        times["agent_cpu"] = children_cpu() - cpu + sampler.container_cpu_s
        assert result.status == "completed", result.error
        if inside:
            gateway.stop_serving(inside)
        gateway.finish(run_dir.name)
    finally:
        start = time.perf_counter()
        testbed.release(workspace)
        times["release"] = time.perf_counter() - start
    memory = {"rss_mb": sampler.peak_rss, "pss_mb": sampler.peak_pss, "private_mb": sampler.peak_private}
    return times | {key: kb / 1024 for key, kb in memory.items()}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def medians(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    inst = load_instances("bundled").iloc[2].to_dict()
    agent = ClineAgent("bench-agent")
    runs = Path(f"/tmp/bench-sandbox-{uuid.uuid4().hex[:6]}")
    results = {}
    with (
        ScriptedLLM(model, models={"bench-agent"}, latency=LATENCY_S) as llm,
        Gateway(Endpoint(llm.base_url, "bench-key", "bench-agent")) as gateway,
    ):
        docker = DockerTestbed(agent_files=agent.files)
        variants = {"local": (LocalTestbed(), False), "before": (docker, True), "docker": (docker, False)}
        measured: dict[str, list[dict]] = {name: [] for name in variants}
        for testbed, before in variants.values():
            testbed.check([inst])
            one_run(testbed, agent, gateway, inst, runs, before)  # images, virtualenvs, first starts: not measured
        for _ in range(REPEATS):  # interleaved, so that the machine's other load falls on every variant alike
            for name, (testbed, before) in variants.items():
                measured[name].append(one_run(testbed, agent, gateway, inst, runs, before))
        results = {name: medians(runs_of) for name, runs_of in measured.items()}
    print(f"the agent's sandbox, per run, median of {REPEATS} (Cline, 2 model calls of {LATENCY_S:.0f} s each)")
    labels = {"local": "local testbed", "before": "agent beside", "docker": "agent inside"}
    for name, got in results.items():
        print(
            f"  {labels[name]:13}  prepare {got['prepare']:5.2f} s   gateway {got['gateway'] * 1000:4.0f} ms   "
            f"start a process {got['launch']:5.2f} s   agent {got['agent']:5.2f} s ({got['agent_cpu']:4.1f} CPU-s)   "
            f"release {got['release']:5.2f} s   "
            f"peak RSS {got['rss_mb']:4.0f} MB   PSS {got['pss_mb']:4.0f} MB   private {got['private_mb']:4.0f} MB"
        )
    steps = ("prepare", "gateway", "launch", "release")  # the agent's own time is its own, measured apart
    total = {name: sum(got[k] for k in steps) for name, got in results.items()}
    inside, beside, local = results["docker"], results["before"], results["local"]
    print(
        f"  overhead per run (prepare + gateway + start + release): inside {total['docker']:.2f} s (goal: under 2 s), "
        f"beside {total['before']:.2f} s ({total['docker'] / total['before']:.2f}x), local {total['local']:.2f} s; "
        f"the agent's own run inside / beside: {inside['agent'] / beside['agent']:.2f}x the time, "
        f"{inside['agent_cpu'] / beside['agent_cpu']:.2f}x the CPU"
    )
    for key, label in (("rss_mb", "RSS"), ("pss_mb", "PSS"), ("private_mb", "private")):
        print(
            f"  memory ({label:7}) inside / beside {inside[key] / beside[key]:.2f}x "
            f"({inside[key] - beside[key]:+.0f} MB), inside / local testbed {inside[key] / local[key]:.2f}x"
        )


if __name__ == "__main__":
    main()
