"""mini-swe-agent (PyPI `mini-swe-agent`, pinned in requirements.txt): a small bash-only agent — its model
answers with `bash` tool calls, each run in a fresh subshell — as SWE-bench users run it (its own
`benchmarks/swebench.yaml`: templates, step and cost limits), its rules appended to its system prompt.

Its loop is Python (litellm, pydantic, jinja2: the project's environment), so it runs as a process of its own
(`python -m cookbook.agents.mini_swe_agent <config>`) in PID and mount namespaces of its own on this machine,
with no provider key in its environment, while every command its model chooses runs in the workspace's
sandbox, where the other agents' processes run: the instance's container (`docker exec`, with the
environment activated, as mini-swe-agent's own DockerEnvironment does for SWE-bench), or the local testbed's
namespaces with the repository's virtualenv. Its model calls go through the run's gateway with litellm
(`openai/<model>` at the gateway's URL; `anthropic/<model>` for an Anthropic endpoint), so the gateway's
transcript proves the rules reached the model, and the judge reads the run from it (`bash` calls and their
output). mini-swe-agent's own trajectory, saved after every step, is kept as the run's `trajectory.json`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata, util
from pathlib import Path

from cookbook.agents.process import run_process
from cookbook.credentials import without_credentials
from cookbook.git import git
from cookbook.paths import PROJECT_DIR
from cookbook.seams import COMPLETED, FAILED, TIMEOUT, AgentNotInstalled, AgentResult, AgentTask
from cookbook.testbeds.namespaces import Namespaces

SUBMITTED = "Submitted"  # mini-swe-agent's exit status when its model submits
COMMAND_TIMEOUT_S = 60  # one command (its swebench.yaml's)
# Never reach the network from its process: litellm's price table from its own package, not from GitHub.
QUIET = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "MSWEA_SILENT_STARTUP": "1", "MSWEA_COST_TRACKING": "ignore_errors"}


class LoopSandbox(Namespaces):
    """Namespaces of its own for mini-swe-agent's loop; ending it ends the task's sandbox too (its commands
    may still run in the instance's container)."""

    def __init__(self, stop_command: list[str]):
        super().__init__()  # this machine's /tmp: the loop writes none of the task's files
        self.stop_command = stop_command


class MiniSweAgent:
    name = "mini-swe-agent"
    api = "openai"  # chat completions, any OpenAI-compatible server
    rules_file = ""
    brings_environment = False
    files: tuple[Path, ...] = ()  # its commands are the sandbox's bash; nothing of this machine is mounted

    def __init__(self, model: str, step_limit: int | None = None):
        self.model, self.step_limit = model, step_limit

    @property
    def version(self) -> str:
        try:
            return metadata.version("mini-swe-agent")
        except metadata.PackageNotFoundError:
            raise AgentNotInstalled(
                "mini-swe-agent is not installed: run `make setup` (pip install -r requirements.txt)."
            ) from None

    def run(self, task: AgentTask) -> AgentResult:
        run_dir, workspace, inside = task.run_dir, task.workspace, task.workspace.sandbox
        run_dir.mkdir(parents=True, exist_ok=True)
        # its swebench.yaml's command environment, less BASH_ENV: the sandbox activates the environment itself
        wanted = {k: v for k, v in swebench_config()["environment"]["env"].items() if k != "BASH_ENV"}
        prefix, command_env = inside.command(["bash", "-c"], {**task.workspace.env, **wanted}, workspace.path)
        provider = "anthropic" if task.endpoint.api == "anthropic" else "openai"
        base_url = task.endpoint.base_url.removesuffix("/v1") if provider == "anthropic" else task.endpoint.base_url
        config = {
            "model_name": f"{provider}/{self.model}",
            "api_base": base_url,
            "api_key": task.endpoint.api_key,
            "task": task.problem_statement,
            "ruleset": task.ruleset,
            "prefix": prefix,
            "env": command_env,
            "cwd": str(workspace.path),
            "step_limit": self.step_limit,
            "trajectory": str(run_dir / "trajectory.json"),
            "result": str(run_dir / "result.json"),
        }
        config_path = workspace.home / "mini-swe-agent.json"
        config_path.write_text(json.dumps(config))
        env = {
            **without_credentials(),
            **QUIET,
            "PYTHONPATH": str(PROJECT_DIR),
            "HOME": str(workspace.home),
            "MSWEA_GLOBAL_CONFIG_DIR": str(workspace.home / "mini-swe-agent"),
        }
        command = [sys.executable, "-m", "cookbook.agents.mini_swe_agent", str(config_path)]
        stdout_path, stderr_path = run_dir / "mini-swe-agent.log", run_dir / "mini-swe-agent.stderr"
        code, timed_out, seconds = run_process(
            command,
            LoopSandbox(inside.stop_command),
            workspace.path,
            env,
            task.timeout,
            stdout_path,
            stderr_path,
            task.stop,
        )
        _remove_submission_file(workspace.path)
        return self._result(run_dir / "result.json", stderr_path, seconds, timed_out, task.timeout, code)

    @staticmethod
    def _result(
        result_path: Path, stderr_path: Path, seconds: float, timed_out: bool, timeout: float, code: int | None
    ) -> AgentResult:
        result = AgentResult(COMPLETED, round(seconds, 2), output_path=str(result_path.with_name("trajectory.json")))
        final = json.loads(result_path.read_text()) if result_path.exists() else None
        if final:
            result.finish_reason = final["exit_status"]
            result.cost_usd = final.get("cost") or None
        if timed_out:
            result.status, result.error = TIMEOUT, f"killed after the {timeout:g} s deadline"
        elif not final:
            stderr = stderr_path.read_text(errors="replace")[-800:].strip()
            result.status, result.error = FAILED, f"mini-swe-agent exited ({code}) without a result: {stderr}"
        elif final["exit_status"] != SUBMITTED:
            result.status = FAILED
            result.error = f"mini-swe-agent ended with {final['exit_status']}: {str(final.get('error', ''))[:500]}"
        return result


def _remove_submission_file(workspace: Path) -> None:
    """The `patch.txt` its SWE-bench template has it write before submitting is not part of the fix (the
    patch is taken with git diff); an untracked one goes."""
    if git("status", "--porcelain", "--", "patch.txt", cwd=workspace).startswith("??"):
        (workspace / "patch.txt").unlink(missing_ok=True)


def swebench_config() -> dict:
    """mini-swe-agent's own configuration for SWE-bench (agent templates and limits, model, environment)."""
    import yaml

    spec = util.find_spec("minisweagent")  # imported, minisweagent prints a banner and makes a config folder
    if spec is None or spec.origin is None:
        raise AgentNotInstalled("mini-swe-agent is not installed: run `make setup` (pip install -r requirements.txt).")
    return yaml.safe_load((Path(spec.origin).parent / "config" / "benchmarks" / "swebench.yaml").read_text())


# -- its process ------------------------------------------------------------------------------------------
def main(config_path: str) -> None:
    """mini-swe-agent's DefaultAgent with its SWE-bench configuration, its model at the gateway, its commands
    in the task's sandbox; writes {exit_status, submission, cost, error} to the config's `result`."""
    import litellm
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.environments.local import LocalEnvironment
    from minisweagent.models.litellm_model import LitellmModel

    litellm.suppress_debug_info = True  # its "Provider List" banner on every unpriced model
    c = json.loads(Path(config_path).read_text())
    defaults = swebench_config()
    agent_config = defaults["agent"] | {"output_path": Path(c["trajectory"])}
    if c["ruleset"].strip():  # the rules: an addition to its system prompt
        agent_config["system_template"] = agent_config["system_template"].rstrip("\n") + "\n\n" + c["ruleset"]
    if c["step_limit"]:
        agent_config["step_limit"] = c["step_limit"]
    model_config = {k: v for k, v in defaults["model"].items() if k not in ("model_name", "model_kwargs")}
    kwargs = {**defaults["model"]["model_kwargs"], "api_base": c["api_base"], "api_key": c["api_key"]}
    model = LitellmModel(model_name=c["model_name"], model_kwargs=kwargs, cost_tracking="ignore_errors", **model_config)

    class SandboxEnvironment(LocalEnvironment):
        """Each command in a fresh `bash -c`, in the task's sandbox (`prefix` + the command)."""

        def execute(self, action: dict, cwd: str = "", *, timeout: int | None = None) -> dict:
            argv = [*c["prefix"], action.get("command", "")]
            try:
                done = subprocess.run(
                    argv,
                    cwd=c["cwd"],
                    env=c["env"],
                    timeout=timeout or COMMAND_TIMEOUT_S,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    errors="replace",
                )
                output = {"output": done.stdout, "returncode": done.returncode, "exception_info": ""}
            except subprocess.TimeoutExpired as e:
                text = e.output.decode(errors="replace") if isinstance(e.output, bytes) else (e.output or "")
                output = {"output": text, "returncode": -1, "exception_info": f"The command timed out: {e}"}
            self._check_finished(output)
            return output

    agent = DefaultAgent(model, SandboxEnvironment(cwd=c["cwd"], timeout=COMMAND_TIMEOUT_S), **agent_config)
    result = {"exit_status": "", "submission": "", "cost": 0.0, "error": ""}
    try:
        extra = agent.run(c["task"])
        result |= {"exit_status": extra.get("exit_status", ""), "submission": extra.get("submission", "")}
    except Exception as e:  # its model call failed for good: the gateway says whose fault it was
        result |= {"exit_status": type(e).__name__, "error": str(e)}
    result["cost"] = agent.cost
    Path(c["result"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
