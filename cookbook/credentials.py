"""Provider credentials stay in the project's own processes (the gateway, the judge's and the optimizer's
clients). Everything the project starts for an agent — the agent itself, the tests it and the harness run,
`cline auth`, `phoenix serve` — gets the environment without them: an agent that runs `env` must not be
able to put a key into its patch, its transcript or anything written from those.

A second line behind that: `scrub` masks the keys' values in whatever the project stores or sends on
(every file it writes, the judge's and the optimizer's requests, Phoenix's payloads), so a key that slipped
out some other way goes no further.
"""

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


def provider_secrets() -> list[str]:
    """The values no file or request of the project may hold: the endpoints' keys it was given, and this
    process's credential variables (8 characters or more), longest first."""
    env = {v for k, v in os.environ.items() if CREDENTIAL_NAME.search(k) and len(v) >= 8}
    return sorted(_known_secrets | env, key=len, reverse=True)


def mask(secret: str) -> str:
    """What stands for a secret: as long as it (so a length-prefixed format stays valid), and says what it is."""
    n = len(secret)
    return f"[REDACTED{'*' * (n - 10)}]" if n >= 10 else "*" * n


def scrub(text: str) -> str:
    """`text` with every provider secret masked."""
    for secret in provider_secrets():
        if secret in text:
            text = text.replace(secret, mask(secret))
    return text


def scrub_bytes(data: bytes) -> bytes:
    """`scrub` for bytes (a request body of any format: the masks keep every length)."""
    for secret in provider_secrets():
        raw = secret.encode()
        if raw in data:
            data = data.replace(raw, mask(secret).encode())
    return data


def scrubbed(value):
    """A JSON-like value (dicts, lists, strings …) with every string scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [scrubbed(v) for v in value]
    if isinstance(value, dict):
        return {k: scrubbed(v) for k, v in value.items()}
    return value
