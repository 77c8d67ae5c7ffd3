"""One registry per seam: every name of an agent, harness or testbed comes from it, and every registered
class says what the others need of it (its name, its wire API, the testbed its patches are scored from)."""

import typing

from cookbook.agents import AGENT_CLASSES, AGENTS, agent_api, agent_class
from cookbook.cli import parser
from cookbook.harnesses import HARNESS_CLASSES, HARNESSES, get_harness
from cookbook.llm.endpoints import APIS
from cookbook.loop import LoopConfig
from cookbook.testbeds import TESTBEDS, make_testbed


def choices(field: str) -> tuple:
    annotation = LoopConfig.model_fields[field].annotation
    literal = next(a for a in (annotation, *typing.get_args(annotation)) if typing.get_origin(a) is typing.Literal)
    return typing.get_args(literal)


def cli_choices(command: str, flag: str) -> tuple:
    sub = next(a for a in parser()._actions if a.dest == "command").choices[command]
    return tuple(next(a for a in sub._actions if flag in a.option_strings).choices)


def test_the_configuration_and_the_cli_list_what_the_registries_hold():
    assert choices("agent") == AGENTS == tuple(AGENT_CLASSES)
    assert choices("harness") == HARNESSES == tuple(HARNESS_CLASSES)
    assert cli_choices("run", "--agent") == AGENTS
    assert cli_choices("run", "--harness") == HARNESSES
    assert cli_choices("validate-benchmark", "--harness") == HARNESSES


def test_each_registered_class_declares_what_the_others_need(monkeypatch):
    monkeypatch.delenv("AGENT_API", raising=False)
    for name in AGENTS:
        cls = agent_class(name)
        assert cls.name == name and cls.api in APIS
    assert agent_api("claude-code") == "anthropic" and agent_api("cline") == "openai"
    monkeypatch.setenv("AGENT_API", "anthropic")  # a configured API wins over the agent's own
    assert agent_api("cline") == "anthropic"
    for name in HARNESSES:
        harness = get_harness(name)
        assert harness.name == name and harness.testbed in TESTBEDS
        assert make_testbed(harness.testbed).name == harness.testbed
