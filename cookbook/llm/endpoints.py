"""The model endpoints of the three roles — agent, judge, optimizer — from arguments, configuration or the
environment.

Each role has a model, an API kind ("openai": chat completions, any OpenAI-compatible server; or
"anthropic": the Messages API, Claude Code's), a base URL, a key and, for reasoning models, a reasoning
effort. Each setting is taken from the first of:
1. the argument (or the run's configuration field: `judge_base_url`, `judge_api`, `judge_reasoning_effort` …);
2. the role's environment variable: `<ROLE>_MODEL`, `<ROLE>_API`, `<ROLE>_BASE_URL`, `<ROLE>_API_KEY`,
   `<ROLE>_REASONING_EFFORT` with ROLE one of AGENT, JUDGE, OPTIMIZER;
3. the provider's pair for the API kind: `OPENAI_BASE_URL` / `OPENAI_API_KEY`, or `ANTHROPIC_BASE_URL` /
   `ANTHROPIC_API_KEY` (the public URLs when unset); the agent's kind is "anthropic" for Claude Code.
So Claude Code on Anthropic's API with an OpenAI judge and optimizer needs only `ANTHROPIC_API_KEY` and
`OPENAI_API_KEY`. Keys come from the environment only: they are never part of a saved configuration.

With no provider variable at all (`offline`), `cookbook.loop.endpoints.role_endpoints` starts the offline
demo's scripted server and points every role at it (its model is `demo-model`, which has no price), and says
so: the cookbook runs with no key. (The three roles' endpoints are assembled in the loop, above both this
folder and `cookbook.scripted`: the demo's server is built on the scripted server, which is built on this
folder's models and tokens.)
"""

from __future__ import annotations

import os

from cookbook.credentials import remember_secret
from cookbook.seams import ConfigurationError, Endpoint

ROLES = ("agent", "judge", "optimizer")
DEFAULT_MODELS = {"agent": "gpt-4.1", "judge": "gpt-5", "optimizer": "gpt-5"}
APIS = ("openai", "anthropic")
REASONING_EFFORTS = ("minimal", "low", "medium", "high")
# API kind → (base URL variable, key variable, public base URL)
PROVIDERS = {
    "openai": ("OPENAI_BASE_URL", "OPENAI_API_KEY", "https://api.openai.com/v1"),
    "anthropic": ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "https://api.anthropic.com/v1"),
}


def role_setting(role: str | None, name: str) -> str | None:
    """The role's own environment variable `<ROLE>_<NAME>` (e.g. JUDGE_BASE_URL), or None."""
    return (os.environ.get(f"{role.upper()}_{name}") or None) if role else None


def default_model(role: str) -> str:
    """The role's model when none is given: `<ROLE>_MODEL`, else the cookbook's (gpt-4.1 agent, gpt-5 judge
    and optimizer)."""
    return role_setting(role, "MODEL") or DEFAULT_MODELS[role]


def endpoint_for(
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    api: str | None = None,
    role: str | None = None,
    reasoning_effort: str | None = None,
) -> Endpoint:
    """The Endpoint of `role` (or of no role: the provider's pair only), each setting from the argument,
    else `<ROLE>_…`, else the provider's variables (see the module's docstring)."""
    label = f"the {role}" if role else "the model"
    model = model or (default_model(role) if role else None)
    if not model:
        raise ConfigurationError(f"endpoints: no model for {label}: pass one.")
    api = api or role_setting(role, "API") or "openai"
    if api not in PROVIDERS:
        raise ConfigurationError(f"endpoints: API kind {api!r} for {label} is not one of {', '.join(APIS)}.")
    url_variable, key_variable, public_url = PROVIDERS[api]
    base_url = base_url or role_setting(role, "BASE_URL") or os.environ.get(url_variable) or public_url
    if api == "anthropic" and not base_url.rstrip("/").endswith("/v1"):
        # Claude Code's ANTHROPIC_BASE_URL has no /v1; the gateway's upstream (and this Endpoint) does
        base_url = base_url.rstrip("/") + "/v1"
    api_key = api_key or role_setting(role, "API_KEY") or os.environ.get(key_variable)
    if not api_key:
        own = f"{role.upper()}_API_KEY or " if role else ""
        raise ConfigurationError(f"endpoints: no API key for {label} ({model} at {base_url}): set {own}{key_variable}.")
    effort = reasoning_effort or role_setting(role, "REASONING_EFFORT")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise ConfigurationError(
            f"endpoints: reasoning effort {effort!r} for {label} is not one of {', '.join(REASONING_EFFORTS)}."
        )
    remember_secret(api_key)  # no process the project starts for an agent may see it
    return Endpoint(base_url, api_key, model, api, effort)


def provider_variables() -> list[str]:
    """Every environment variable that points a role at a real provider."""
    names = [name for url, key, _ in PROVIDERS.values() for name in (url, key)]
    return names + [f"{role.upper()}_{name}" for role in ROLES for name in ("BASE_URL", "API_KEY")]


def offline() -> bool:
    """True when no provider variable is set: the offline demo's scripted models play every role."""
    return not any(os.environ.get(name) for name in provider_variables())
