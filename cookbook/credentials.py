"""Provider credentials stay in the project's own processes (the gateway, the judge's and the optimizer's
clients). Everything the project starts for an agent — the agent itself, the tests it and the harness run,
`cline auth`, `phoenix serve` — gets the environment without them: an agent that runs `env` must not be
able to put a key into its patch, its transcript or anything written from those."""

from __future__ import annotations

import os
import re

# Names that hold credentials, and the endpoint configuration an agent must not bypass the gateway with.
CREDENTIAL_NAME = re.compile(r"(^|_)(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)(_|$)", re.IGNORECASE)
ENDPOINT_PREFIXES = ("OPENAI_", "ANTHROPIC_", "AZURE_OPENAI_", "AGENT_", "JUDGE_", "OPTIMIZER_")

_known_secrets: set[str] = set()


def remember_secret(value: str | None) -> None:
    """A key the project holds (an endpoint's): any variable with this value is removed too, whatever its name."""
    if value and len(value) >= 8:
        _known_secrets.add(value)


def without_credentials(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's environment) without provider credentials or endpoint settings."""
    env = dict(os.environ if env is None else env)
    secrets = _known_secrets | {v for k, v in env.items() if _is_credential(k) and len(v) >= 8}
    return {k: v for k, v in env.items() if not _is_credential(k) and v not in secrets}


def _is_credential(name: str) -> bool:
    return bool(CREDENTIAL_NAME.search(name)) or name.upper().startswith(ENDPOINT_PREFIXES)
