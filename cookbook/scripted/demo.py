"""The offline demo: one scripted OpenAI-compatible server that plays the agent's model, the judge and the
optimizer (all named `demo-model`, which has no price: the demo counts tokens, not dollars), so the whole
learning path runs with no key and no network — with the real Cline binary, the real harness, the real
Phoenix. The server is as strict as the real APIs; the demo's clients send what a real model accepts.

The script is a small, honest story:
- The agent's model fixes the easy tasks at once (it sends the gold edits). On the other tasks it gives
  up without running anything — unless the rules in its system prompt tell it to run the tests first;
  then it runs `python -m pytest` through Cline's shell tool and makes the fix.
- The judge explains each result from what it sees — the agent's trajectory in its request ("The agent
  ended after 1 LLM call without running any command or the tests") and the patch — suggests running the
  tests, and says of each rule whether the agent followed it (it ran the tests) or broke it.
- The optimizer reads the judges' suggestions out of its meta-prompt and writes them as rules (rewrite
  mode: the whole ruleset; delta mode: an "add" operation).
So the rule the next loop's agent receives was learned from feedback, and the agent's behaviour changes
only because the rule is in the prompt it receives.
"""

from __future__ import annotations

import json
import re

from cookbook.llm.messages import messages_text, system_prompt
from cookbook.llm.models import DEMO_MODEL
from cookbook.scripted.server import Reply, ScriptedLLM, ToolCall, patch_as_tool_calls, task_of, tool_names

RULE_KEYWORD = "python -m pytest"
JUDGE_IMPROVEMENT = (
    "Reproduce the problem first: run the repository's tests with `python -m pytest` before and after "
    "editing, and do not finish until the tests that cover the issue pass."
)


class DemoScript:
    """The scripted model of the demo. `instances` are the tasks it may be asked about."""

    def __init__(self, instances: list[dict]):
        self.instances = instances

    def __call__(self, request: dict) -> Reply:
        if request.get("tools"):
            return self.agent(request)
        if (request.get("response_format") or {}).get("json_schema", {}).get("name") == "patch_judgement":
            return self.judge(request)
        return self.optimizer(request)

    def agent(self, request: dict) -> Reply:
        inst = task_of(request, self.instances)
        if inst is None:
            return final_reply(request, "I could not identify the task.")
        messages = request.get("messages", [])
        assistant_turns = [m for m in messages if m.get("role") == "assistant"]
        follows_rule = RULE_KEYWORD in system_prompt(request)
        easy = inst.get("difficulty") == "easy"
        if not assistant_turns:
            if easy:
                return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
            if follows_rule:
                return Reply(tool_calls=[shell_call(request, "python -m pytest -q -x 2>&1 | tail -5")])
            return final_reply(
                request, "I looked at the issue but I am not sure where the bug is, so I will stop here."
            )
        if len(assistant_turns) == 1 and follows_rule and not easy:
            return Reply(tool_calls=patch_as_tool_calls(inst["patch"], request))
        return final_reply(request, "I made the change the issue asks for.")

    def judge(self, request: dict) -> Reply:
        text = messages_text(request, "user")
        passed = "## Test result\nPASSED" in text
        empty = "(empty: the agent changed nothing)" in text
        did = what_the_agent_did(text)
        if passed:
            explanation = f"{did}; its patch changes the same code as the reference fix and the hidden tests pass."
        elif empty:
            explanation = f"{did}: it never reproduced the bug, so it had no evidence of where the fault was."
        else:
            explanation = f"{did}; its patch does not make the failing tests pass."
        answer = {
            "correctness": "correct" if passed else "incorrect",
            "explanation": explanation,
            "improvement": JUDGE_IMPROVEMENT,
        }
        schema = request["response_format"]["json_schema"]["schema"]
        if "rules" in schema["properties"]:  # a verdict on every rule, as the strict schema requires
            answer["rules"] = rule_verdicts(schema, text)
        return Reply(content=json.dumps(answer))

    def optimizer(self, request: dict) -> Reply:
        text = messages_text(request, "user")
        if (request.get("response_format") or {}).get("json_schema", {}).get("name") == "ruleset_operations":
            return self.delta(text)
        # the section ends at the next heading: the examples, or the rulesets already grown from it
        current = text.split("## The current ruleset\n", 1)[-1].split("\n\n## ", 1)[0].strip()
        rules = [] if current.startswith("(empty") else [line for line in current.splitlines() if line.strip()]
        failures = text.count("correctness:\nincorrect")
        if failures:
            # the rule is the judges' suggestion, taken from the feedback in the meta-prompt
            suggestion = re.search(r"improvement:\n(.+)", text)
            rule = f"- {suggestion.group(1).strip()}" if suggestion else f"- {JUDGE_IMPROVEMENT}"
            if rule not in rules:
                rules.append(rule)
        return Reply(content="<ruleset>\n" + "\n".join(rules) + "\n</ruleset>")

    def delta(self, text: str) -> Reply:
        """Delta mode: add the judges' suggestion as a rule, unless a rule says it already."""
        current = text.split("## The current ruleset\n", 1)[-1].split("\n\n## ", 1)[0]
        suggestion = re.search(r"improvement:\n(.+)", text)
        rule = suggestion.group(1).strip() if suggestion else JUDGE_IMPROVEMENT
        operations = []
        if "correctness:\nincorrect" in text and rule not in current:
            operations.append({"op": "add", "id": "", "text": rule, "sources": []})
        return Reply(content=json.dumps({"operations": operations, "effects": []}))


def what_the_agent_did(text: str) -> str:
    """One sentence from the trajectory in a judge's request: how many LLM calls, commands, tests."""
    section = text.split("## What the agent did", 1)[-1].split("\n## ", 1)[0]
    calls = re.search(r"after (\d+ LLM calls?)", section)
    commands = re.search(r"^Commands run \((\d+)\)", section, re.M)
    ran_tests = "Tests: ran the tests" in section
    if not commands:
        ran = "without running any command or the tests"
    else:
        ran = f"after running {commands.group(1)} command(s)" + (
            ", the tests among them" if ran_tests else " but never the tests"
        )
    return f"The agent ended after {calls.group(1) if calls else 'its LLM calls'} {ran}"


def rule_verdicts(schema: dict, text: str) -> list[dict]:
    """The demo's verdict on each rule: a rule about the tests is followed when the agent ran them, broken
    when it did not; other rules do not apply."""
    ids = schema["properties"]["rules"]["items"]["properties"]["id"]["enum"]
    ran_tests = "Tests: ran the tests" in text
    verdicts = []
    for rule_id in ids:
        line = re.search(rf"^\[{rule_id}\] (.+)$", text, re.M)
        about_tests = bool(line) and RULE_KEYWORD in line.group(1)
        verdict = ("followed" if ran_tests else "broken") if about_tests else "not_applicable"
        evidence = "the trajectory shows a test run" if ran_tests else "the trajectory shows no test run"
        verdicts.append({"id": rule_id, "verdict": verdict, "evidence": evidence if about_tests else ""})
    return verdicts


def shell_call(request: dict, command: str) -> ToolCall:
    """A shell command as the tool call the agent offers for it: Cline's `run_commands`, Claude Code's
    `Bash`, mini-swe-agent's `bash`."""
    names = tool_names(request)
    if "bash" in names:
        return ToolCall("bash", {"command": command})
    if "Bash" in names:
        return ToolCall("Bash", {"command": command, "description": command[:60]})
    return ToolCall("run_commands", {"commands": [command]})


def final_reply(request: dict, text: str) -> Reply:
    """The agent's last answer: plain text, or, to mini-swe-agent (every answer of which must be a `bash`
    call), its command that submits."""
    if tool_names(request) == {"bash"}:
        return Reply(
            content=text, tool_calls=[ToolCall("bash", {"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"})]
        )
    return Reply(content=text)


def start_demo_server(instances: list[dict], latency: float = 0.0, log_path=None) -> ScriptedLLM:
    """Start the demo's scripted server (stop it with `.stop()`)."""
    return ScriptedLLM(DemoScript(instances), models={DEMO_MODEL}, latency=latency, log_path=log_path).start()
