"""The seams of the cookbook: the protocols its parts meet at, and the records that cross them. Read this first.

    dataset → split → run_act: per instance, Testbed.prepare → Agent.run (through the gateway to an
    Endpoint) → patch → Harness.evaluate → outcome → judge → optimizer → next ruleset

Four seams, each with one folder of implementations and a factory in the folder's `__init__`:
- **Endpoint** (a record): where one role's model is reached — agent, judge, optimizer.
- **Testbed** (`cookbook/testbeds/`): prepares where an agent runs, and releases it; its workspace's
  **Sandbox** is where the agent's processes run, apart from the project's own (the task's container, or
  namespaces of their own).
- **Agent** (`cookbook/agents/`): works on a task in a prepared workspace; returns how it ended.
- **Harness** (`cookbook/harnesses/`): scores patches; returns one verdict per instance.

Contract shared by all of them (as gepa's adapters): one instance's failure is a *result*, never an
exception; exceptions are for systemic failures that stop the run (a binary not installed, no Docker
engine, no credentials), and their message says what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# -- one vocabulary of outcomes ------------------------------------------------------------------------
# Every row of results says whose outcome it is. The agent's outcomes are scored, judged and learned from;
# an ERROR is the infrastructure's (endpoint, workspace, harness …): never judged, never learned from.
RESOLVED = "resolved"  # the patch makes every FAIL_TO_PASS and PASS_TO_PASS test pass
UNRESOLVED = "unresolved"  # the agent finished (or gave up); its patch does not pass
TIMEOUT = "timeout"  # the agent was killed at its deadline; what it left was scored, and did not pass
ERROR = "error"  # not the agent's outcome: something around it failed (see the row's `error`)
AGENT_OUTCOMES = (RESOLVED, UNRESOLVED, TIMEOUT)
OUTCOMES = (*AGENT_OUTCOMES, ERROR)


# An ERROR row's `error_kind` says whose fault it is, so its message can say what to fix.
ERROR_KINDS = {
    "endpoint": "the model endpoint cannot be reached",
    "provider": "the provider kept failing (429 / 5xx) after retries",
    "model": "the model does not exist at the endpoint (404)",
    "auth": "the endpoint refused the key, or the account has no quota",
    "gateway": "the project's recording gateway failed",
    "agent": "the agent's process failed to start or ended without a result",
    "workspace": "the workspace could not be made",
    "repository": "the repository or its base commit cannot be reached",
    "harness": "the harness could not score the patch",
    "environment": "the instance's environment cannot be built, or its tests cannot run here",
    "spec": "the row lacks what the harness needs",
}


def pass_or_fail(outcome: str) -> str:
    """The cookbook's column: "pass" for a resolved row, "fail" for the agent's other outcomes, "" (not
    scored) for an infrastructure error."""
    return "pass" if outcome == RESOLVED else ("fail" if outcome in AGENT_OUTCOMES else "")


# -- errors a user can fix -----------------------------------------------------------------------------
class CookbookError(RuntimeError):
    """A problem the user can fix: its message names the component and the fix. The CLI prints it in one
    or two lines (a traceback only with --debug), and so does the notebook."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"{type(self).__name__}: {self}"]


class ConfigurationError(CookbookError, ValueError):
    """A setting is wrong; the message names it and what it accepts."""


# -- Endpoint ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """Where one role's model is reached. `api` is the wire format: "openai" (chat completions, any
    OpenAI-compatible server) or "anthropic" (the Messages API, for Claude Code). The key never leaves
    the project's own processes: agents get the gateway's URL and a dummy key instead.
    `reasoning_effort` (minimal / low / medium / high) is sent to reasoning models only; None: the
    provider's default. `cookbook.llm.endpoints` builds one per role from the environment."""

    base_url: str
    api_key: str = field(repr=False)
    model: str
    api: str = "openai"
    reasoning_effort: str | None = None


# -- Testbed -------------------------------------------------------------------------------------------
class Sandbox(Protocol):
    """Where an agent's processes run, apart from the project's own processes: the instance's container
    (docker testbed), or PID and mount namespaces of their own on this machine (local testbed). Nothing in
    it can see a provider key: not in its environment, not in another process's.

    The agent writes its files on this machine (the workspace, its home) and starts its process with
    `command`; `path` says where that process finds such a file. `network` is the network namespace the
    processes live in (None: this machine's), where the run's gateway must listen too. `stop_command`
    ends every process the agent started in there ([]: ending its process group is enough); it is run when
    the agent's process ends, and by the guard when the run's own process dies first."""

    network: Path | None
    stop_command: list[str]

    def path(self, host_path: Path) -> str:
        """Where the agent's processes see `host_path` (a file of the workspace, the home or the agent's
        installation); raises ValueError for a path they cannot see."""
        ...

    def command(self, argv: list[str], env: dict[str, str], cwd: Path) -> tuple[list[str], dict[str, str]]:
        """The command (and its environment) that runs `argv` inside, with `env`, in `cwd`."""
        ...


@dataclass
class Workspace:
    """A prepared place for one agent run: the checkout the agent edits, the environment its processes get
    on top of the sandbox's own (the repository's interpreter first on PATH; never a provider credential),
    the commit its patch is taken against (the workspace's own starting state), a folder for the agent's
    own state (its configuration and data; gone with the workspace) and the sandbox its processes run in
    (None for an agent that brings its own, a Modal sandbox)."""

    path: Path
    env: dict[str, str]
    base: str
    handle: object = None  # the testbed's own state (a container, a temporary directory)
    home: Path | None = None
    sandbox: Sandbox | None = None


class Testbed(Protocol):
    """Where an agent runs: a local checkout with the repository's virtualenv, an instance image's
    /testbed with a container for its tests, or a plain checkout for an agent that brings its own
    environment (a remote sandbox)."""

    name: str

    def check(self, instances: list[dict]) -> None:
        """Raise (with what to fix) when this testbed cannot prepare these instances here: no Docker engine,
        a repository or base commit that cannot be reached. Called once, before any agent starts."""
        ...

    def prepare(self, instance: dict) -> Workspace:
        """Make a fresh workspace for `instance` at its base commit. Raises (with what to fix) when it
        cannot: no mirror, an unknown commit, no engine."""
        ...

    def release(self, workspace: Workspace) -> None:
        """Remove the workspace and whatever was started for it. Never raises."""
        ...


# -- Agent ---------------------------------------------------------------------------------------------
@dataclass
class AgentTask:
    """One agent run's inputs. `endpoint` is the run's own gateway URL with a dummy key. `stop` is set when
    the run must end now (the endpoint failed for good, the user interrupted): the agent kills its
    processes at once."""

    instance: dict
    workspace: Workspace
    ruleset: str
    endpoint: Endpoint
    run_dir: Path
    timeout: float
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def problem_statement(self) -> str:
        return self.instance["problem_statement"]


COMPLETED, FAILED = "completed", "failed"  # how an agent process ended (besides TIMEOUT)


@dataclass
class AgentResult:
    """How one agent run ended: "completed", "failed" (no final result, an error it reported) or
    "timeout". Token counts are the agent's own report; the gateway counts too."""

    status: str
    duration_s: float
    error: str = ""
    finish_reason: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    output_path: str = ""  # the agent's own output (Cline: NDJSON events)


class Agent(Protocol):
    """A coding agent. `rules_file` is where in the workspace it reads its rules ("" if they are passed
    otherwise); `brings_environment` is True for an agent that runs somewhere of its own (a sandbox made
    from the instance image), so it needs only a plain checkout to bring its patch back to. `files` are
    the folders of this machine its process needs where it runs (its installation), given to it read-only.
    `api` is the wire API it reaches its model by unless configured otherwise ("openai" or "anthropic")."""

    name: str
    api: str
    rules_file: str
    brings_environment: bool
    files: tuple[Path, ...]

    @property
    def version(self) -> str:
        """The installed version; raises AgentNotInstalled with how to install it."""
        ...

    def run(self, task: AgentTask) -> AgentResult:
        """Work on the task's issue in its workspace with its ruleset, talking only to `task.endpoint`;
        run in the workspace's sandbox, its own state in the workspace's home; keep the files of the run
        that are worth keeping (its output) under `task.run_dir`; stop by `task.timeout` seconds, whatever
        the agent does."""
        ...


class AgentNotInstalled(CookbookError):
    """The agent's binary is missing; the message says how to install it."""


# -- Harness -------------------------------------------------------------------------------------------
@dataclass
class ScoreResult:
    """The harness's verdict on one instance's patch: RESOLVED, UNRESOLVED or ERROR (the harness itself
    broke: not the patch's fault), with the reason and the tail of the test log."""

    instance_id: str
    outcome: str
    reason: str
    test_log: str = ""
    failed_tests: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    error_kind: str = ""  # an ERROR's kind (see ERROR_KINDS): "harness" unless said otherwise

    @property
    def pass_or_fail(self) -> str:
        return pass_or_fail(self.outcome)


class Harness(Protocol):
    """Scores patches. `version` is part of the key of stored scores: bump it when grading changes.
    `testbed` names the testbed an agent runs in for its patches to be scored here (`cookbook.testbeds`):
    the environment the tests run in is the one the agent worked in."""

    name: str
    version: str
    testbed: str

    def check(self, instances: list[dict]) -> None:
        """Raise HarnessError (with what to fix) when these instances cannot be scored here: no engine, no
        credentials, rows without the fields the harness needs. Called before any agent starts."""
        ...

    def evaluate(self, instances: list[dict], patches: Mapping[str, str]) -> list[ScoreResult]:
        """Score `patches[instance_id]` (missing or "" = the empty patch) for every instance, in order."""
        ...


class HarnessError(CookbookError):
    """The harness cannot run at all (not one instance's problem); the message says what to do."""
