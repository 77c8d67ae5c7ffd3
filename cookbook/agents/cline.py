"""Cline: the CLI from npm (`cline`, pinned in package.json, installed into node_modules/ by `make setup`),
headless in Act mode with tools auto-approved, its rules in the workspace's `.clinerules`.

The provider is configured with `cline auth` once per provider and model, into a template that each run
copies with its own gateway URL; every run has its own `--config` and `--data-dir` in its workspace's home,
so parallel runs share no state. Cline runs in the workspace's sandbox. The run ends when the process
exits; its last `run_result` event says how.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from pathlib import Path

from cookbook.agents.process import run_process
from cookbook.credentials import without_credentials
from cookbook.files import file_lock
from cookbook.paths import PROJECT_DIR, cookbook_dir
from cookbook.seams import COMPLETED, FAILED, TIMEOUT, AgentNotInstalled, AgentResult, AgentTask

PLACEHOLDER_URL = "http://127.0.0.1:9/cookbook-placeholder/v1"
PLATFORMS = {"Linux": "linux", "Darwin": "darwin", "Windows": "windows"}
ARCHES = {"x86_64": "x64", "AMD64": "x64", "aarch64": "arm64", "arm64": "arm64"}


def cline_binary() -> Path:
    """Cline's compiled binary for this platform (`@cline/cli-<os>-<arch>`), run directly: npm's `cline`
    command may be a Node wrapper that only finds and starts the same binary (another process and ~50 MB
    per run, and which of the two npm links depends on install order); else that command."""
    modules = PROJECT_DIR / "node_modules"
    package = f"cli-{PLATFORMS.get(platform.system(), '')}-{ARCHES.get(platform.machine(), '')}"
    direct = modules / "@cline" / package / "bin" / "cline"
    return direct if direct.is_file() else modules / ".bin" / "cline"


class ClineAgent:
    """The Cline CLI against an OpenAI-compatible endpoint (the run's gateway URL)."""

    name = "cline"
    api = "openai"  # chat completions, any OpenAI-compatible server
    rules_file = ".clinerules"
    brings_environment = False

    def __init__(
        self,
        model: str,
        provider: str = "openai-compatible",
        binary: Path | str | None = None,
        extra_args: tuple[str, ...] = (),
    ):
        self.model = model
        self.provider = provider
        self.binary = Path(binary) if binary else cline_binary()
        self.extra_args = tuple(extra_args)

    @property
    def files(self) -> tuple[Path, ...]:
        """The binary's package (the binary and the files it reads beside it)."""
        return (self.binary.resolve().parent.parent,)

    @property
    def version(self) -> str:
        package = self.binary.resolve().parent.parent / "package.json"
        if not package.exists():
            raise AgentNotInstalled(f"Cline is not installed at {self.binary}; run `make setup` (npm install).")
        return json.loads(package.read_text())["version"]

    def provider_template(self) -> Path:
        """providers.json written by `cline auth` with a placeholder URL, made once per provider+model."""
        key = f"{self.provider}-{self.model}".replace("/", "_")
        template = cookbook_dir() / "agents" / f"cline-{self.version}" / key / "providers.json"
        with file_lock(template.with_suffix(".lock")):
            if not template.exists():
                scratch = template.parent / "auth"
                shutil.rmtree(scratch, ignore_errors=True)
                command = [
                    str(self.binary),
                    *("auth", "--provider", self.provider, "--apikey", "via-gateway", "--modelid", self.model),
                    *("--baseurl", PLACEHOLDER_URL, "--config", str(scratch / "config")),
                    *("--data-dir", str(scratch / "data")),
                ]
                env = {**without_credentials(), "CLINE_DIR": str(scratch)}
                done = subprocess.run(
                    command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, env=env
                )
                written = scratch / "data" / "settings" / "providers.json"
                if done.returncode != 0 or not written.exists():
                    raise RuntimeError(
                        f"cline auth failed ({done.returncode}): {done.stdout[-1000:]}{done.stderr[-1000:]}"
                    )
                shutil.copy(written, template)
                shutil.rmtree(scratch, ignore_errors=True)
        return template

    def run(self, task: AgentTask) -> AgentResult:
        run_dir, workspace, home = task.run_dir, task.workspace.path, task.workspace.home
        inside = task.workspace.sandbox
        run_dir.mkdir(parents=True, exist_ok=True)
        config_dir, data_dir = home / "cline-config", home / "cline-data"
        (data_dir / "settings").mkdir(parents=True, exist_ok=True)
        config_dir.mkdir(exist_ok=True)
        providers = self.provider_template().read_text().replace(PLACEHOLDER_URL, task.endpoint.base_url)
        (data_dir / "settings" / "providers.json").write_text(providers)
        if task.ruleset.strip():
            (workspace / self.rules_file).write_text(task.ruleset)
        command = [
            inside.path(self.binary),
            *("--config", inside.path(config_dir), "--data-dir", inside.path(data_dir)),
            *("--cwd", inside.path(workspace), "--json", *self.extra_args, task.problem_statement),
        ]
        stdout_path, stderr_path = run_dir / "cline.ndjson", run_dir / "cline.stderr"
        env = {**task.workspace.env, "CLINE_DIR": inside.path(home / "cline-home")}
        code, timed_out, seconds = run_process(
            command, inside, workspace, env, task.timeout, stdout_path, stderr_path, task.stop
        )
        stderr = stderr_path.read_text(errors="replace")
        return self.read_result(stdout_path, seconds, timed_out, task.timeout, code, stderr)

    @staticmethod
    def read_result(
        stdout_path: Path, seconds: float, timed_out: bool, timeout: float, code: int | None, stderr: str = ""
    ) -> AgentResult:
        """The run's result from Cline's NDJSON output: its last `run_result` carries the finish reason and
        usage; without one the run failed, whatever the exit code."""
        result = AgentResult(COMPLETED, round(seconds, 2), output_path=str(stdout_path))
        final = last_event(stdout_path, "run_result")
        if final:
            usage = final.get("aggregateUsage") or final.get("usage") or {}
            result.finish_reason = str(final.get("finishReason", ""))
            result.input_tokens = usage.get("inputTokens")
            result.output_tokens = usage.get("outputTokens")
            result.cost_usd = usage.get("totalCost")
        if timed_out:
            result.status, result.error = TIMEOUT, f"killed after the {timeout:g} s deadline"
        elif not final:
            result.status = FAILED
            result.error = f"cline exited ({code}) without a run_result: {stderr[-800:].strip()}"
        elif result.finish_reason != "completed":
            result.status = FAILED
            result.error = f"cline finished with {result.finish_reason}: {final.get('text', '')[:500]}"
        return result


def last_event(ndjson_path: Path, event_type: str) -> dict | None:
    """The last event of this type in an NDJSON file, or None."""
    found = None
    if ndjson_path.exists():
        for line in ndjson_path.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("type") == event_type:
                found = event
    return found
