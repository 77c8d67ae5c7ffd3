"""Prices that match the bill (cached tokens, cache writes, dated names, no guesses) and an endpoint per
role from the environment (Claude Code on Anthropic's API with an OpenAI judge)."""

import warnings

import pytest

from cookbook.llm import prices
from cookbook.llm.client import LLMClient
from cookbook.llm.endpoints import ConfigurationError, offline, provider_variables
from cookbook.llm.prices import cost_usd, price
from cookbook.llm.usage import Usage, usage_from
from cookbook.loop.config import LoopConfig
from cookbook.loop.endpoints import role_endpoints
from cookbook.scripted.server import Reply, ScriptedLLM
from cookbook.seams import Endpoint


def test_a_cost_with_cached_tokens_equals_the_hand_computed_figure(tmp_path):
    # gpt-4.1: $2 per million input tokens, $0.50 cached, $8 output. 10,000 prompt tokens of which 8,000
    # were cached, 500 completion tokens: 2,000 x 2 + 8,000 x 0.5 + 500 x 8 = 12,000 millionths of a dollar.
    hand = (2_000 * 2.0 + 8_000 * 0.5 + 500 * 8.0) / 1e6
    assert hand == 0.012
    reply = Reply(content="ok", prompt_tokens=10_000, cached_tokens=8_000, completion_tokens=500)
    with ScriptedLLM(lambda request: reply, models={"gpt-4.1-2025-04-14"}) as llm:  # a dated name: its family's price
        client = LLMClient(Endpoint(llm.base_url, "k", "gpt-4.1-2025-04-14"), cache=False)
        answer = client.chat([{"role": "user", "content": "hi"}])
    assert (answer.prompt_tokens, answer.cached_tokens, answer.completion_tokens) == (10_000, 8_000, 500)
    assert answer.cost_usd == pytest.approx(hand, abs=1e-12)
    assert price("gpt-4.1", 10_000, 500) == pytest.approx(0.024)  # what ignoring the cache would have billed

    # Anthropic: input_tokens exclude the cache; writes cost 1.25x the input price, reads 0.1x
    usage = usage_from(
        {
            "input_tokens": 2_000,
            "cache_creation_input_tokens": 2_000,
            "cache_read_input_tokens": 6_000,
            "output_tokens": 1_000,
        }
    )
    assert usage == Usage(10_000, 1_000, cached_tokens=6_000, cache_write_tokens=2_000)
    sonnet = (2_000 * 3.0 + 2_000 * 3.75 + 6_000 * 0.30 + 1_000 * 15.0) / 1e6
    assert cost_usd("claude-sonnet-4-5-20250929", usage) == pytest.approx(sonnet, abs=1e-12)


def test_no_dollar_figure_is_guessed_and_an_unknown_model_is_warned_about_once(monkeypatch):
    monkeypatch.setattr(prices, "_warned", set())
    with pytest.warns(UserWarning, match="no list price for model 'my-finetune'") as caught:
        assert price("my-finetune", 1_000, 1_000) is None
        assert price("my-finetune", 1_000, 1_000) is None
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert price("demo-model", 1_000, 1_000) is None  # scripted: no price, and no warning
        assert price("openai/gpt-5-2025-08-07", 1_000_000, 0) == 1.25


@pytest.fixture
def environment(monkeypatch):
    """No provider variable set: each test sets its own."""
    for name in [*provider_variables(), "AGENT_MODEL", "JUDGE_MODEL", "OPTIMIZER_MODEL", "AGENT_API"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_claude_code_on_anthropic_with_an_openai_judge_from_two_keys(environment):
    environment.setenv("ANTHROPIC_API_KEY", "sk-ant")
    environment.setenv("OPENAI_API_KEY", "sk-openai")
    environment.setenv("AGENT_MODEL", "claude-sonnet-4-5")
    environment.setenv("OPTIMIZER_BASE_URL", "http://127.0.0.1:8000/v1")
    environment.setenv("OPTIMIZER_API_KEY", "sk-local")
    environment.setenv("JUDGE_REASONING_EFFORT", "low")
    config = LoopConfig(agent="claude-code")
    assert (config.agent_model, config.judge_model, config.optimizer_model) == ("claude-sonnet-4-5", "gpt-5", "gpt-5")
    endpoints = role_endpoints(None, None, None, [], config)
    assert not offline()
    assert endpoints.agent == Endpoint("https://api.anthropic.com/v1", "sk-ant", "claude-sonnet-4-5", "anthropic")
    assert endpoints.judge == Endpoint("https://api.openai.com/v1", "sk-openai", "gpt-5", "openai", "low")
    assert endpoints.optimizer == Endpoint("http://127.0.0.1:8000/v1", "sk-local", "gpt-5", "openai")
    assert "sk-ant" not in repr(endpoints.agent)  # keys stay out of reprs and logs

    config = LoopConfig(agent_base_url="http://proxy:4000", agent_api="anthropic", judge_reasoning_effort="high")
    endpoints = role_endpoints(None, None, None, [], config)
    assert endpoints.agent.base_url == "http://proxy:4000/v1" and endpoints.agent.api == "anthropic"
    assert endpoints.judge.reasoning_effort == "high"


def test_a_missing_key_names_the_variables_to_set(environment):
    environment.setenv("ANTHROPIC_API_KEY", "sk-ant")
    with pytest.raises(ConfigurationError, match="no API key for the judge .*set JUDGE_API_KEY or OPENAI_API_KEY"):
        role_endpoints(None, None, None, [], LoopConfig(agent="claude-code"))


def test_a_usd_budget_refuses_to_run_blind_and_a_token_budget_works(environment, bundled):
    environment.setenv("OPENAI_API_KEY", "sk-openai")
    environment.setenv("AGENT_MODEL", "my-local-model")
    with pytest.raises(ConfigurationError, match="budget_usd=5.0 cannot be kept: no price for my-local-model"):
        role_endpoints(None, None, None, [], LoopConfig(budget_usd=5.0))
    assert role_endpoints(None, None, None, [], LoopConfig(budget_tokens=10_000)).agent.model == "my-local-model"

    environment.delenv("OPENAI_API_KEY")  # offline: scripted models have no price either
    instances = bundled.to_dict("records")
    with pytest.raises(ConfigurationError, match="no price for demo-model"):
        role_endpoints(None, None, None, instances, LoopConfig(budget_usd=1.0), quiet=True)
    demo = role_endpoints(None, None, None, instances, LoopConfig(budget_tokens=1), quiet=True)
    try:
        assert offline() and demo.judge.model == "demo-model" and demo.demo_server is not None
    finally:
        demo.stop()


def test_context_size_k_in_thousands_is_refused_by_the_configuration():
    with pytest.raises(ValueError, match="context_size_k=128 looks like thousands of tokens"):
        LoopConfig(context_size_k=128)
    assert LoopConfig(context_size_k=400000).context_size_k == 400000
    assert LoopConfig().context_size_k is None  # the optimizer model's window
