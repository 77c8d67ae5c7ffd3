"""Agents beyond one machine: Cline in a Modal sandbox built from the SWE-bench instance image.

`ModalClineAgent` is an agent of the same protocol as `ClineAgent`, so `run_act` drives it the same
way, with the same recording gateway — which the sandbox must be able to reach: expose the gateway's
port with a tunnel of your choice and set `COOKBOOK_GATEWAY_PUBLIC_URL` to its public base (the part that
replaces `http://127.0.0.1:PORT`). Per run: a sandbox from the instance's `image` (its `/testbed` holds
the repository at the base commit and its environment) with Node and the pinned Cline CLI added; the
ruleset written to `/testbed/.clinerules`; Cline run headless in it; the sandbox's `git diff` against the
base commit applied to the local workspace, where `run_act` takes the patch as for a local agent.

Memory then lives in Modal's cloud, so 100+ agents run in parallel without one machine's ~0.8 GB each.
Needs `pip install modal` and `modal token new`. Without credentials, the first Modal client call fails
and this says so.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cookbook.agents.cline import PLACEHOLDER_URL, ClineAgent
from cookbook.files import atomic_write_text
from cookbook.git import GitError, git
from cookbook.modal_cloud import ModalUnavailable, modal_app
from cookbook.seams import FAILED, AgentResult, AgentTask


class ModalClineAgent(ClineAgent):
    """Cline in a Modal sandbox per run: it brings its own environment (the instance image), so it needs
    only a plain local checkout to bring its patch back to."""

    name = "cline-modal"
    brings_environment = True

    def __init__(
        self,
        model: str,
        provider: str = "openai-compatible",
        public_gateway_url: str | None = None,
        cpu: float = 2.0,
        memory_mb: int = 4096,
    ):
        super().__init__(model, provider)
        self.public_gateway_url = public_gateway_url or os.environ.get("COOKBOOK_GATEWAY_PUBLIC_URL")
        self.cpu, self.memory_mb = cpu, memory_mb

    def sandbox_base_url(self, base_url: str) -> str:
        """The run's gateway URL as the sandbox reaches it."""
        if not self.public_gateway_url:
            raise ModalUnavailable(
                "A Modal sandbox cannot reach the gateway on 127.0.0.1: expose it with a tunnel and set "
                "COOKBOOK_GATEWAY_PUBLIC_URL (or public_gateway_url=) to its public base URL."
            )
        path = base_url.split("/runs/", 1)[1]
        return f"{self.public_gateway_url.rstrip('/')}/runs/{path}"

    def run(self, task: AgentTask) -> AgentResult:
        import modal

        instance, run_dir, timeout, ruleset = task.instance, task.run_dir, task.timeout, task.ruleset
        if not instance.get("image"):
            raise ModalUnavailable("The Modal backend runs SWE-bench instances that name their `image`.")
        app = modal_app()
        url = self.sandbox_base_url(task.endpoint.base_url)
        run_dir.mkdir(parents=True, exist_ok=True)
        providers = self.provider_template().read_text().replace(PLACEHOLDER_URL, url)
        image = modal.Image.from_registry(instance["image"]).run_commands(
            "command -v node || (apt-get update && apt-get install -y nodejs npm)",
            f"npm install -g cline@{self.version}",
        )
        start = time.monotonic()
        sandbox = modal.Sandbox.create(
            app=app, image=image, workdir="/testbed", timeout=int(timeout) + 120, cpu=self.cpu, memory=self.memory_mb
        )
        try:
            files = {"/root/cline/data/settings/providers.json": providers, "/tmp/task.txt": task.problem_statement}
            if ruleset.strip():
                files[f"/testbed/{self.rules_file}"] = ruleset
            for path, text in files.items():
                sandbox.exec("mkdir", "-p", str(Path(path).parent)).wait()
                with sandbox.open(path, "w") as handle:
                    handle.write(text)
            process = sandbox.exec(
                "bash",
                "-c",
                "cline --config /root/cline/config --data-dir /root/cline/data --cwd /testbed "
                '--json "$(cat /tmp/task.txt)" </dev/null',
                timeout=int(timeout),
            )
            output = process.stdout.read()
            code = process.wait()
            atomic_write_text(run_dir / "cline.ndjson", output)
            diff = sandbox.exec(
                "bash",
                "-c",
                f"cd /testbed && git add -N . && git diff --binary "
                f"{instance['base_commit']} -- . ':(exclude){self.rules_file}'",
            )
            patch = diff.stdout.read()
            diff.wait()
        finally:
            sandbox.terminate()
        seconds = time.monotonic() - start
        result = self.read_result(run_dir / "cline.ndjson", seconds, seconds >= timeout, timeout, code)
        if patch.strip():
            try:
                git("apply", "--binary", "-", cwd=task.workspace.path, input=patch)
            except GitError as e:
                result.status, result.error = FAILED, f"the sandbox's diff does not apply locally: {e}"
        return result
