"""The model endpoints of the three roles — agent, judge, optimizer — from arguments or the environment.

With neither `OPENAI_API_KEY` nor `OPENAI_BASE_URL` set, `role_endpoints` starts the offline demo's
scripted server and points every role at it (and says so), so the cookbook runs with no key at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cookbook.seams import ConfigurationError, Endpoint

OPENAI_URL = "https://api.openai.com/v1"


def endpoint_for(model: str, base_url: str | None = None, api_key: str | None = None, api: str = "openai") -> Endpoint:
    """An Endpoint for `model`: `base_url` / `api_key`, else OPENAI_BASE_URL / OPENAI_API_KEY."""
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    if not api_key:
        raise ConfigurationError(f"No API key for {model} at {base_url}: set OPENAI_API_KEY (or pass api_key=).")
    return Endpoint(base_url, api_key, model, api)


@dataclass
class RoleEndpoints:
    """The agent's, the judge's and the optimizer's endpoints, and the demo server when offline."""

    agent: Endpoint
    judge: Endpoint
    optimizer: Endpoint
    demo_server: object = None

    def stop(self) -> None:
        if self.demo_server is not None:
            self.demo_server.stop()
            self.demo_server = None


def offline() -> bool:
    return not (os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))


def role_endpoints(
    agent_model: str, judge_model: str, optimizer_model: str, instances: list[dict], quiet: bool = False
) -> RoleEndpoints:
    """The three roles' endpoints: the real ones from the environment, or (offline) the demo's server."""
    if not offline():
        return RoleEndpoints(endpoint_for(agent_model), endpoint_for(judge_model), endpoint_for(optimizer_model))
    from cookbook.llm.offline_demo import start_demo_server

    server = start_demo_server(instances, log_path=os.environ.get("COOKBOOK_DEMO_REQUEST_LOG"))
    if not quiet:
        print(
            "OFFLINE DEMO MODE: no OPENAI_API_KEY or OPENAI_BASE_URL is set, so the agent's model, the judge "
            f"and the optimizer are a scripted OpenAI-compatible server at {server.base_url}. Cline, the test "
            "harness and Phoenix are real. Set OPENAI_API_KEY (or OPENAI_BASE_URL) to use real models."
        )
    url = server.base_url
    return RoleEndpoints(
        Endpoint(url, "offline-demo", agent_model),
        Endpoint(url, "offline-demo", judge_model),
        Endpoint(url, "offline-demo", optimizer_model),
        server,
    )
