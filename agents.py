"""Coding agents behind one small protocol: Cline (the CLI from npm) and Claude Code.

An agent is given a prepared workspace, the task (the issue text), the ruleset, and the base URL of
its model (the recording gateway's URL for this run); it edits the workspace and returns an
`AgentResult`. The patch is taken afterwards by the caller with `git diff`, so an agent adapter only
has to run the agent well: isolated state per run, the rules where the agent reads them, completion
detected when the process exits, and a deadline that kills the whole process group.

An agent's own failure (a crash, a timeout, no final result) is an `AgentResult` with its status and
reason; exceptions are for systemic failures (the binary is not installed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from config import PROJECT_DIR, cookbook_dir
from util import file_lock

COMPLETED, FAILED, TIMEOUT = "completed", "failed", "timeout"
KILL_GRACE_S = 5.0


@dataclass
class AgentResult:
    """How one agent run ended. Token counts are the agent's own report (the gateway counts too)."""

    status: str  # "completed" | "failed" | "timeout"
    duration_s: float
    error: str = ""
    finish_reason: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    output_path: str = ""  # the agent's own output (Cline: NDJSON events)


class AgentNotInstalled(RuntimeError):
    """The agent's binary is missing; the message says how to install it."""


class Agent(Protocol):
    name: str
    rules_file: str  # the file in the workspace the agent reads its rules from ("" if passed otherwise)

    @property
    def version(self) -> str: ...

    def run(
        self,
        workspace: Path,
        task: str,
        ruleset: str,
        base_url: str,
        run_dir: Path,
        env: dict[str, str],
        timeout: float,
        instance: dict | None = None,
    ) -> AgentResult:
        """Work on `task` in `workspace` with `ruleset`, talking to the model at `base_url`; keep every
        file of the run under `run_dir`; stop by `timeout` seconds, whatever the agent does. `instance` is
        the whole SWE-bench row, for agents that need more than the task (a remote sandbox's image)."""
        ...


def run_process(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float, stdout_path: Path, stderr_path: Path
) -> tuple[int | None, bool, float]:
    """Run a command in its own process group, output to files as it comes (nothing lost on a kill).
    On timeout: SIGTERM to the group, then SIGKILL after a grace period. → (exit code, timed_out, seconds)."""
    start = time.monotonic()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
        try:
            code = proc.wait(timeout=timeout)
            _kill_group(proc.pid, signal.SIGKILL)  # helpers the agent left behind (servers, watchers)
            return code, False, time.monotonic() - start
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
            return None, True, time.monotonic() - start


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class ClineAgent:
    """The Cline CLI (`cline`, pinned in package.json, installed into node_modules/ by `make setup`),
    headless in Act mode with tools auto-approved, rules in the workspace's `.clinerules`.

    The provider is configured with `cline auth` (once per provider and model, into a template that
    each run copies with its own base URL), and every run has its own `--config` and `--data-dir`,
    so parallel runs share no state.
    """

    name = "cline"
    rules_file = ".clinerules"

    def __init__(
        self,
        model: str,
        provider: str = "openai-compatible",
        binary: Path | str | None = None,
        extra_args: tuple[str, ...] = (),
    ):
        self.model = model
        self.provider = provider
        self.binary = Path(binary) if binary else PROJECT_DIR / "node_modules" / ".bin" / "cline"
        self.extra_args = tuple(extra_args)

    @property
    def version(self) -> str:
        package = self.binary.resolve().parent.parent / "package.json"
        if not package.exists():
            raise AgentNotInstalled(f"Cline is not installed at {self.binary}; run `make setup` (npm install).")
        return json.loads(package.read_text())["version"]

    _PLACEHOLDER_URL = "http://127.0.0.1:9/cookbook-placeholder/v1"

    def _provider_template(self) -> Path:
        """providers.json written by `cline auth` with a placeholder URL, made once per provider+model."""
        key = f"{self.provider}-{self.model}".replace("/", "_")
        template = cookbook_dir() / "agents" / f"cline-{self.version}" / key / "providers.json"
        with file_lock(template.with_suffix(".lock")):
            if not template.exists():
                scratch = template.parent / "auth"
                shutil.rmtree(scratch, ignore_errors=True)
                command = [
                    str(self.binary),
                    "auth",
                    "--provider",
                    self.provider,
                    "--apikey",
                    "via-gateway",
                    "--modelid",
                    self.model,
                    "--baseurl",
                    self._PLACEHOLDER_URL,
                    "--config",
                    str(scratch / "config"),
                    "--data-dir",
                    str(scratch / "data"),
                ]
                done = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    stdin=subprocess.DEVNULL,
                    timeout=120,
                    env={**os.environ, "CLINE_DIR": str(scratch)},
                )
                written = scratch / "data" / "settings" / "providers.json"
                if done.returncode != 0 or not written.exists():
                    raise RuntimeError(
                        f"cline auth failed ({done.returncode}): {done.stdout[-1000:]}{done.stderr[-1000:]}"
                    )
                shutil.copy(written, template)
                shutil.rmtree(scratch, ignore_errors=True)
        return template

    def run(
        self,
        workspace: Path,
        task: str,
        ruleset: str,
        base_url: str,
        run_dir: Path,
        env: dict[str, str],
        timeout: float,
        instance: dict | None = None,
    ) -> AgentResult:
        run_dir.mkdir(parents=True, exist_ok=True)
        config_dir, data_dir = run_dir / "cline-config", run_dir / "cline-data"
        (data_dir / "settings").mkdir(parents=True, exist_ok=True)
        config_dir.mkdir(exist_ok=True)
        providers = self._provider_template().read_text().replace(self._PLACEHOLDER_URL, base_url)
        (data_dir / "settings" / "providers.json").write_text(providers)
        if ruleset.strip():
            (workspace / self.rules_file).write_text(ruleset)
        command = [
            str(self.binary),
            "--config",
            str(config_dir),
            "--data-dir",
            str(data_dir),
            "--cwd",
            str(workspace),
            "--json",
            *self.extra_args,
            task,
        ]
        stdout_path, stderr_path = run_dir / "cline.ndjson", run_dir / "cline.stderr"
        code, timed_out, seconds = run_process(
            command, workspace, {**env, "CLINE_DIR": str(run_dir / "cline-home")}, timeout, stdout_path, stderr_path
        )
        return self.read_result(stdout_path, seconds, timed_out, timeout, code, stderr_path.read_text(errors="replace"))

    @staticmethod
    def read_result(
        stdout_path: Path, seconds: float, timed_out: bool, timeout: float, code: int | None, stderr: str = ""
    ) -> AgentResult:
        """The run's result from Cline's NDJSON output: its last `run_result` carries the finish reason and
        usage; without one the run failed, whatever the exit code."""
        result = AgentResult(COMPLETED, round(seconds, 2), output_path=str(stdout_path))
        final = _last_event(stdout_path, "run_result")
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
            result.status, result.error = (
                FAILED,
                f"cline finished with {result.finish_reason}: {final.get('text', '')[:500]}",
            )
        return result


def _last_event(ndjson_path: Path, event_type: str) -> dict | None:
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


class ClaudeCodeAgent:
    """Claude Code (`@anthropic-ai/claude-code`, `claude -p`), rules through `--append-system-prompt`.

    It speaks Anthropic's Messages API, so the gateway's upstream must be an Anthropic endpoint.
    """

    name = "claude-code"
    rules_file = ""

    def __init__(self, model: str, binary: Path | str | None = None, max_turns: int = 50):
        self.model = model
        self.binary = Path(binary) if binary else PROJECT_DIR / "node_modules" / ".bin" / "claude"
        self.max_turns = max_turns

    @property
    def version(self) -> str:
        package = self.binary.resolve().parent.parent / "package.json"
        if not self.binary.exists() or not package.exists():
            raise AgentNotInstalled(
                f"Claude Code is not installed at {self.binary}: npm install @anthropic-ai/claude-code@<version>."
            )
        return json.loads(package.read_text())["version"]

    def run(
        self,
        workspace: Path,
        task: str,
        ruleset: str,
        base_url: str,
        run_dir: Path,
        env: dict[str, str],
        timeout: float,
        instance: dict | None = None,
    ) -> AgentResult:
        run_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(self.binary),
            "-p",
            task,
            "--output-format",
            "json",
            "--model",
            self.model,
            "--max-turns",
            str(self.max_turns),
            # bypassPermissions is refused when running as root (containers, CI): allow the tools instead
            "--permission-mode",
            "acceptEdits",
            "--allowedTools",
            "Bash,Edit,MultiEdit,Write,Read,Glob,Grep,LS",
        ]
        if ruleset.strip():
            command += ["--append-system-prompt", ruleset]
        env = {
            **env,
            "ANTHROPIC_BASE_URL": base_url.removesuffix("/v1"),
            "ANTHROPIC_API_KEY": "via-gateway",
            "CLAUDE_CONFIG_DIR": str(run_dir / "claude-config"),
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        stdout_path, stderr_path = run_dir / "claude.json", run_dir / "claude.stderr"
        code, timed_out, seconds = run_process(command, workspace, env, timeout, stdout_path, stderr_path)
        result = AgentResult(COMPLETED, round(seconds, 2), output_path=str(stdout_path))
        try:
            final = json.loads(stdout_path.read_text())
        except ValueError:
            final = None
        if isinstance(final, dict):
            usage = final.get("usage") or {}
            result.finish_reason = str(final.get("subtype", ""))
            result.input_tokens, result.output_tokens = usage.get("input_tokens"), usage.get("output_tokens")
            result.cost_usd = final.get("total_cost_usd")
        if timed_out:
            result.status, result.error = TIMEOUT, f"killed after the {timeout:g} s deadline"
        elif not isinstance(final, dict):
            result.status = FAILED
            result.error = (
                f"claude exited ({code}) without a JSON result: {stderr_path.read_text(errors='replace')[-800:]}"
            )
        elif final.get("is_error") or result.finish_reason != "success":
            result.status, result.error = (
                FAILED,
                f"claude finished with {result.finish_reason}: {str(final.get('result'))[:500]}",
            )
        return result


def make_agent(name: str, model: str, **options) -> Agent:
    """`"cline"`, `"cline-modal"` (Cline in a Modal sandbox per run) or `"claude-code"`."""
    if name == "cline":
        return ClineAgent(model, **options)
    if name == "cline-modal":
        from modal_backend import ModalClineAgent

        return ModalClineAgent(model, **options)
    if name == "claude-code":
        return ClaudeCodeAgent(model, **options)
    raise ValueError(f"Unknown agent {name!r}; use 'cline', 'cline-modal' or 'claude-code'.")
