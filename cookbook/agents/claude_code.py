"""Claude Code (`@anthropic-ai/claude-code`, `claude -p`), its rules through `--append-system-prompt`.

It speaks Anthropic's Messages API, so the agent's endpoint must be an Anthropic-compatible one. Edits and
the shell are allowed with `acceptEdits` and `--allowedTools`, because `bypassPermissions` is refused when
running as root (containers, CI).
"""

from __future__ import annotations

import json
from pathlib import Path

from cookbook.agents.process import run_process
from cookbook.paths import PROJECT_DIR
from cookbook.seams import COMPLETED, FAILED, TIMEOUT, AgentNotInstalled, AgentResult, AgentTask

ALLOWED_TOOLS = "Bash,Edit,MultiEdit,Write,Read,Glob,Grep,LS"


class ClaudeCodeAgent:
    name = "claude-code"
    api = "anthropic"  # it speaks only Anthropic's Messages API
    rules_file = ""
    brings_environment = False

    def __init__(self, model: str, binary: Path | str | None = None, max_turns: int = 50):
        self.model = model
        self.binary = Path(binary) if binary else PROJECT_DIR / "node_modules" / ".bin" / "claude"
        self.max_turns = max_turns

    @property
    def files(self) -> tuple[Path, ...]:
        """The folder of its binary (one self-contained executable)."""
        return (self.binary.resolve().parent,)

    @property
    def version(self) -> str:
        package = self.binary.resolve().parent.parent / "package.json"
        if not self.binary.exists() or not package.exists():
            raise AgentNotInstalled(f"Claude Code is not installed at {self.binary}: run `make setup` (npm install).")
        return json.loads(package.read_text())["version"]

    def run(self, task: AgentTask) -> AgentResult:
        run_dir, inside = task.run_dir, task.workspace.sandbox
        run_dir.mkdir(parents=True, exist_ok=True)
        command = [
            inside.path(self.binary),
            *("-p", task.problem_statement, "--output-format", "json", "--model", self.model),
            *("--max-turns", str(self.max_turns), "--permission-mode", "acceptEdits", "--allowedTools", ALLOWED_TOOLS),
        ]
        if task.ruleset.strip():
            command += ["--append-system-prompt", task.ruleset]
        env = {
            **task.workspace.env,
            "ANTHROPIC_BASE_URL": task.endpoint.base_url.removesuffix("/v1"),
            "ANTHROPIC_API_KEY": task.endpoint.api_key,
            "CLAUDE_CONFIG_DIR": inside.path(task.workspace.home / "claude-config"),
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        stdout_path, stderr_path = run_dir / "claude.json", run_dir / "claude.stderr"
        code, timed_out, seconds = run_process(
            command, inside, task.workspace.path, env, task.timeout, stdout_path, stderr_path, task.stop
        )
        return self._result(stdout_path, stderr_path, seconds, timed_out, task.timeout, code)

    @staticmethod
    def _result(
        stdout_path: Path, stderr_path: Path, seconds: float, timed_out: bool, timeout: float, code: int | None
    ) -> AgentResult:
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
            stderr = stderr_path.read_text(errors="replace")[-800:]
            result.status, result.error = FAILED, f"claude exited ({code}) without a JSON result: {stderr}"
        elif final.get("is_error") or result.finish_reason != "success":
            result.status = FAILED
            result.error = f"claude finished with {result.finish_reason}: {str(final.get('result'))[:500]}"
        return result
