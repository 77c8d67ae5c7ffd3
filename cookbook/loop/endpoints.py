"""The three roles' endpoints — agent, judge, optimizer — as a run uses them: the real ones (each from the
argument, the run's configuration, then the environment: `cookbook.llm.endpoints.endpoint_for`), or, when no
provider variable is set, the offline demo's scripted server (`cookbook.scripted.demo`) for every role.

The loop assembles them because it sits above both: the endpoint of one role is the LLM folder's
(`cookbook.llm.endpoints`), the demo's server is the scripted folder's, and that folder is built on the LLM
folder (`role_endpoints` was in `cookbook/llm/endpoints.py`, which made the two import each other).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cookbook.agents import agent_api, agent_class
from cookbook.llm.endpoints import ROLES, endpoint_for, offline
from cookbook.llm.models import DEMO_MODEL
from cookbook.seams import ConfigurationError, Endpoint


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


def role_endpoints(
    agent_model: str | None,
    judge_model: str | None,
    optimizer_model: str | None,
    instances: list[dict],
    config=None,
    quiet: bool = False,
) -> RoleEndpoints:
    """The three roles' endpoints: the real ones (arguments, then `config`'s fields — a LoopConfig — then the
    environment), or, offline, the demo's server. With `config.budget_usd` set, every role's model must
    have a price (else ConfigurationError, before any paid work)."""
    models = {"agent": agent_model, "judge": judge_model, "optimizer": optimizer_model}
    if offline():
        kind = agent_class(getattr(config, "agent", None) or "cline").api  # the wire API the demo speaks
        endpoints = _demo_endpoints(instances, kind, quiet)
    else:
        built = {role: _configured(role, models[role], config) for role in ROLES}
        endpoints = RoleEndpoints(built["agent"], built["judge"], built["optimizer"])
    budget = getattr(config, "budget_usd", None)
    if budget is not None:
        from cookbook.llm.prices import unpriced

        missing = unpriced([endpoints.agent.model, endpoints.judge.model, endpoints.optimizer.model])
        if missing:
            endpoints.stop()
            raise ConfigurationError(
                f"budget_usd={budget} cannot be kept: no price for {', '.join(missing)} (cookbook.llm.prices). "
                "Add the price to PRICES, or use budget_tokens instead."
            )
    return endpoints


def _configured(role: str, model: str | None, config) -> Endpoint:
    def field(name: str) -> str | None:
        return getattr(config, f"{role}_{name}", None) if config is not None else None

    api = field("api") or (agent_api(getattr(config, "agent", None)) if role == "agent" else None)
    return endpoint_for(
        model or field("model"),
        base_url=field("base_url"),
        api=api,
        role=role,
        reasoning_effort=field("reasoning_effort"),
    )


def _demo_endpoints(instances: list[dict], agent_kind: str, quiet: bool) -> RoleEndpoints:
    from cookbook.scripted.demo import start_demo_server

    server = start_demo_server(instances, log_path=os.environ.get("COOKBOOK_DEMO_REQUEST_LOG"))
    if not quiet:
        print(
            "OFFLINE DEMO MODE: no provider variable is set (OPENAI_API_KEY, ANTHROPIC_API_KEY, AGENT_BASE_URL …), "
            f"so the agent's model, the judge and the optimizer are a scripted server at {server.base_url} "
            f"(model {DEMO_MODEL!r}: tokens are counted, dollars are not). Cline, the test harness and Phoenix "
            "are real. Set OPENAI_API_KEY (or another provider variable) to use real models."
        )
    url = server.base_url
    return RoleEndpoints(
        Endpoint(url, "offline-demo", DEMO_MODEL, agent_kind),
        Endpoint(url, "offline-demo", DEMO_MODEL),
        Endpoint(url, "offline-demo", DEMO_MODEL),
        server,
    )
