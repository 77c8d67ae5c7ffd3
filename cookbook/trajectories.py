"""What the agent did, condensed for the judge: from a run's transcript, the commands it ran with the tail
of their output, the files it read and edited, whether it ran the tests and what they said, and how it
ended — cut to a budget with visible markers.

    text = condense(row)   # row: one row of run_act's results (transcript_path, outcome, error, llm_calls …)

The transcript (`cookbook.llm.transcripts.requests`) holds every request the agent sent. A tool call is
read from the assistant message that the *next* request of the same conversation carries (with its id
and whole arguments), and its result from the messages after it: OpenAI's `tool` messages (Cline:
`run_commands`, `read_files`, `editor`, `apply_patch`, `search_codebase` …) or Anthropic's `tool_result`
blocks (Claude Code: `Bash`, `Read`, `Edit`, `Write`, `Grep` …), matched by id. The last request's reply
has no next request: its tool calls come from what the gateway recorded, without a result.

The text, in this order (`max_chars` bounds all of it; default 8,000 characters, ~2,000 tokens):

    Ended: gave up — it stopped by itself after 3 LLM calls without changing any code; its last message: "…"
    Tests: ran the tests 1 time; the last run said: "3 failed, 77 passed in 0.31s"
    Commands run (2): `echo hi && ls`; `python -m pytest -q`
    Files read (1): `src/pkg/mod.py`
    Files edited (1): `src/pkg/mod.py` (1 edit failed)
    Steps (5):
    1. $ echo hi && ls
       hi
       README.md …
    2. read src/pkg/mod.py
    …

Each command's output keeps its last `output_chars` characters (marker `[... N characters cut ...]`);
when the steps do not fit, the first third and the last two thirds of the room are kept and the middle
is replaced by `[... steps 4–37 of 60 cut to fit the budget ...]`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from cookbook.grading import strip_ansi
from cookbook.llm.transcripts import requests
from cookbook.seams import TIMEOUT

COMMAND_TOOLS = {"run_commands", "execute_command", "Bash", "bash"}  # Cline, Claude Code, mini-swe-agent
READ_TOOLS = {"read_files", "read_file", "Read", "NotebookRead"}
EDIT_TOOLS = {"editor", "apply_patch", "write_to_file", "replace_in_file", "Edit", "MultiEdit", "Write", "NotebookEdit"}
SEARCH_TOOLS = {"search_codebase", "search_files", "list_files", "list_code_definition_names", "Grep", "Glob", "LS"}
TEST_COMMAND = re.compile(
    r"\b(pytest|py\.test|unittest|nose2?|tox|nox|runtests?\.py)\b|manage\.py\s+test|\b(npm|yarn|pnpm)\s+(run\s+)?test"
    r"|\bgo\s+test|\bcargo\s+test|\bmake\s+(test|check)\b"
)
TEST_SUMMARY = re.compile(r"\b\d+ (passed|failed|errors?|error)\b|^Ran \d+ tests?|^(OK|FAILED)\b|no tests ran", re.M)
REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)
WORKSPACE_PREFIX = re.compile(r"^(?:.*/workspaces/[^/]+/|/testbed/)")
CUT = "[... {n} characters cut ...]"


@dataclass
class Step:
    """One thing the agent did: a tool call (`kind`: command, read, edit, search, other) with its target
    (the command line, the paths, the query) and its result, or a message it wrote (`kind` "said")."""

    kind: str
    tool: str
    target: str
    output: str = ""
    failed: bool = False
    answered: bool = True  # False: the run ended before the tool's result came back

    @property
    def is_test(self) -> bool:
        return self.kind == "command" and bool(TEST_COMMAND.search(self.target))


def tail(text: str, limit: int) -> str:
    """The last `limit` characters of `text` (from a line start where possible), marked when cut."""
    text = text.strip("\n")
    if len(text) <= limit:
        return text
    kept = text[-limit:]
    if "\n" in kept[: limit // 2]:
        kept = kept.split("\n", 1)[1]
    return CUT.format(n=f"{len(text) - len(kept):,}") + "\n" + kept


def clean(text) -> str:
    """Tool output as text: content parts joined, terminal colours and Claude Code's reminders removed."""
    if isinstance(text, list):
        text = "\n".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in text)
    return REMINDER.sub("", strip_ansi(str(text or ""))).strip()


def short_path(path: str) -> str:
    return WORKSPACE_PREFIX.sub("", str(path))


def _paths(arguments: dict) -> list[str]:
    for key in ("path", "file_path", "notebook_path", "absolutePath"):
        if arguments.get(key):
            return [short_path(arguments[key])]
    found = []
    for item in arguments.get("files") or arguments.get("paths") or []:
        path = item.get("path") if isinstance(item, dict) else item
        if path:
            found.append(short_path(path))
    if isinstance(arguments.get("input"), str):  # apply_patch's grammar names the files it touches
        found += [
            short_path(p) for p in re.findall(r"^\*\*\* (?:Update|Add|Delete) File: (.+)$", arguments["input"], re.M)
        ]
    return found


def _cline_results(content: str) -> tuple[dict[str, tuple[str, bool]], str, bool]:
    """Cline's tool result: ({query: (result, failed)} per command or file, the whole text, any failed)."""
    try:
        parsed = json.loads(content)
    except ValueError:
        return {}, content, False
    items = parsed if isinstance(parsed, list) else [parsed]
    by_query, texts = {}, []
    for item in items:
        if not isinstance(item, dict):
            texts.append(str(item))
            continue
        text = "\n".join(clean(item[k]) for k in ("result", "error") if item.get(k))
        by_query[str(item.get("query", ""))] = (text, item.get("success") is False or bool(item.get("error")))
        texts.append(text)
    return by_query, "\n".join(texts), any(failed for _, failed in by_query.values())


def tool_steps(name: str, arguments, result: str | None, failed: bool = False) -> list[Step]:
    """The steps of one tool call (`result` None: never came back). Cline's `run_commands` runs several
    commands in one call: one step each, with its own output."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            arguments = {"arguments": arguments}
    arguments = arguments if isinstance(arguments, dict) else {}
    answered = result is not None
    by_query, text, cline_failed = _cline_results(result) if answered else ({}, "", False)
    failed = failed or cline_failed
    if name in COMMAND_TOOLS:
        commands = arguments.get("commands") or [arguments.get("command", "")]
        commands = [commands] if isinstance(commands, str) else commands
        whole = (text, failed) if len(commands) == 1 else ("", False)
        return [Step("command", name, str(c), *by_query.get(str(c), whole), answered) for c in commands]
    if name in READ_TOOLS:
        return [Step("read", name, ", ".join(_paths(arguments)) or json.dumps(arguments)[:200], "", failed, answered)]
    if name in EDIT_TOOLS:
        return [Step("edit", name, ", ".join(_paths(arguments)) or "?", text if failed else "", failed, answered)]
    if name in SEARCH_TOOLS:
        query = arguments.get("queries") or arguments.get("pattern") or arguments.get("regex") or arguments
        target = "; ".join(map(str, query)) if isinstance(query, list) else str(query)
        return [Step("search", name, target, text, failed, answered)]
    return [Step("other", name, json.dumps(arguments)[:300], text, failed, answered)]


def _calls(message: dict) -> tuple[str, list[tuple[str, str, object]]]:
    """(its text, [(id, tool name, arguments)]) of an assistant message of either API."""
    content, calls, texts = message.get("content"), [], []
    for call in message.get("tool_calls") or []:  # OpenAI
        function = call.get("function") or {}
        calls.append((call.get("id", ""), function.get("name", ""), function.get("arguments", "")))
    if isinstance(content, list):  # Anthropic
        for block in content:
            if block.get("type") == "tool_use":
                calls.append((block.get("id", ""), block.get("name", ""), block.get("input") or {}))
            elif block.get("type") == "text":
                texts.append(block.get("text", ""))
    elif content:
        texts.append(str(content))
    return "\n".join(texts).strip(), calls


def _results(messages: list[dict]) -> dict[str, tuple[str, bool]]:
    """{tool call id: (result text, is_error)} from the messages that follow an assistant message."""
    found = {}
    for message in messages:
        if message.get("role") == "assistant":
            break
        if message.get("role") == "tool":
            found[message.get("tool_call_id", "")] = (clean(message.get("content")), False)
        elif isinstance(message.get("content"), list):
            for block in message["content"]:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    found[block.get("tool_use_id", "")] = (clean(block.get("content")), bool(block.get("is_error")))
    return found


def _plain(message):
    """A message without Anthropic's cache markers, which an agent moves from request to request."""
    if isinstance(message, dict):
        return {k: _plain(v) for k, v in message.items() if k != "cache_control"}
    return [_plain(v) for v in message] if isinstance(message, list) else message


def read_steps(path: Path | str) -> tuple[list[Step], int]:
    """(the steps of a run, the number of requests in its transcript). Side requests (a title, a summary:
    requests without tools) are left out when the run has requests with tools."""
    entries = requests(path)
    main = [e for e in entries if e["request"].get("tools")] or entries
    steps: list[Step] = []
    conversations = [[_plain(m) for m in e["request"].get("messages") or []] for e in main]
    for i, entry in enumerate(main):
        sent = entry["request"].get("messages") or []
        n = len(sent)
        # the next request of the same conversation: its messages start with these (an agent may also
        # send side requests in between, and moves cache markers, which are not compared)
        later = [j for j in range(i + 1, len(main)) if len(conversations[j]) > n]
        j = next((j for j in later if conversations[j][:n] == conversations[i]), later[0] if later else None)
        following = main[j]["request"]["messages"] if j is not None else None
        if following is not None and following[len(sent)].get("role") == "assistant":
            text, calls = _calls(following[len(sent)])
            results = _results(following[len(sent) + 1 :])
        else:  # the last reply: what the gateway recorded, no result
            text, results = entry.get("reply_text") or "", {}
            calls = [("", c.get("name", ""), c.get("arguments", "")) for c in entry.get("tool_calls") or []]
        if text:
            steps.append(Step("said", "", text))
        for call_id, name, arguments in calls:
            result, error = results.get(call_id, (None, False))
            steps += tool_steps(name, arguments, result, error)
    return steps, len(entries)


def _quote(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return f'"{text[:limit]}…"' if len(text) > limit else f'"{text}"'


def _calls_phrase(n: int) -> str:
    return f"{n} LLM call{'' if n == 1 else 's'}"


def ending(row: dict, steps: list[Step], calls: int) -> str:
    """How the run ended, from the row (`outcome`, `error`, `llm_calls`, `cline_patch`) and its last step:
    timed out, hit the request cap, gave up (stopped by itself without changing any code) or finished."""
    n = int(row.get("llm_calls") or calls or 0)
    error = str(row.get("error") or "")
    if row.get("outcome") == TIMEOUT:
        return f"timed out — the agent was killed at its deadline after {_calls_phrase(n)} ({error or 'no detail'})"
    if "request cap" in error:
        return f"hit the request cap — {error} (after {_calls_phrase(n)})"
    last = steps[-1] if steps else None
    said = f"; its last message: {_quote(last.target)}" if last and last.kind == "said" else ""
    if last and last.kind != "said" and not last.answered:
        said = f"; its last step ({last.tool}) never got a result"
    if not str(row.get("cline_patch") or "").strip():
        return f"gave up — it stopped by itself after {_calls_phrase(n)} without changing any code{said}"
    return f"finished — it stopped by itself after {_calls_phrase(n)} with a patch{said}"


def _listing(items: list[str], limit: int = 12) -> str:
    unique = list(dict.fromkeys(items))
    shown = "; ".join(f"`{i[:150]}`" if len(i) <= 150 else f"`{i[:150]}…`" for i in unique[:limit])
    return f"({len(unique)}): {shown}" + (f"; and {len(unique) - limit} more" if len(unique) > limit else "")


def tests_line(steps: list[Step]) -> str:
    runs = [s for s in steps if s.is_test]
    if not runs:
        return "never ran the tests"
    said = [line for line in runs[-1].output.splitlines() if TEST_SUMMARY.search(line)]
    last = said[-1] if said else (runs[-1].output.strip().splitlines() or ["(no output)"])[-1]
    times = "1 time" if len(runs) == 1 else f"{len(runs)} times"
    return f"ran the tests {times}; the last run (`{runs[-1].target[:150]}`) said: {_quote(last)}"


def summary(row: dict, steps: list[Step], calls: int) -> str:
    """The lines before the steps: how it ended, the tests, the commands, the files read and edited."""
    commands = [s.target for s in steps if s.kind == "command"]
    read = [p for s in steps if s.kind == "read" for p in s.target.split(", ")]
    edits = [s for s in steps if s.kind == "edit"]
    failed_edits = sum(1 for s in edits if s.failed)
    edited = [p for s in edits for p in s.target.split(", ")]
    lines = [
        f"Ended: {ending(row, steps, calls)}",
        f"Tests: {tests_line(steps)}",
        f"Commands run {_listing(commands)}" if commands else "Commands run: none",
        f"Files read {_listing(read)}" if read else "Files read: none",
        (f"Files edited {_listing(edited)}" if edited else "Files edited: none")
        + (f" ({failed_edits} edit{'s' if failed_edits > 1 else ''} failed)" if failed_edits else ""),
    ]
    return "\n".join(lines)


def render_step(number: int, step: Step, output_chars: int) -> str:
    if step.kind == "said":
        return f"{number}. said: {_quote(step.target, 400)}"
    head = {"command": "$ ", "read": "read ", "edit": "edit ", "search": "search "}.get(step.kind, f"{step.tool} ")
    target = step.target if len(step.target) <= 500 else step.target[:500] + CUT.format(n=len(step.target) - 500)
    line = f"{number}. {head}{target}"
    if step.kind == "edit":
        line += f" ({step.tool})" + (f" — failed: {tail(step.output, 300)}" if step.failed else "")
        return line
    if not step.answered:
        return line + "\n   (no result: the run ended first)"
    if step.kind == "read":
        return line + (" — failed" if step.failed else "")
    output = tail(step.output, output_chars) if step.output else "(no output)"
    return line + ("  [failed]" if step.failed else "") + "\n" + "\n".join(f"   {o}" for o in output.splitlines())


def fit_steps(rendered: list[str], room: int) -> list[str]:
    """The steps within `room` characters: all of them, or the first third and the last two thirds of the
    room with a marker naming the steps cut between."""
    if sum(len(s) + 1 for s in rendered) <= room:
        return rendered
    head, tail_, used = [], [], 0
    for text in rendered:
        if used + len(text) + 1 > room // 3:
            break
        head.append(text)
        used += len(text) + 1
    for text in reversed(rendered[len(head) :]):
        if used + len(text) + 1 > room - 80:
            break
        tail_.insert(0, text)
        used += len(text) + 1
    first, last = len(head) + 1, len(rendered) - len(tail_)
    marker = f"[... steps {first}–{last} of {len(rendered)} cut to fit the budget ...]"
    return [*head, marker, *tail_]


def condense(row: dict, max_chars: int = 8_000, output_chars: int = 800) -> str:
    """The condensed trajectory of one result row, at most `max_chars` characters (see the module)."""
    path = str(row.get("transcript_path") or "")
    if not path or path == "nan" or not Path(path).exists():
        return f"(no transcript of this run: {path or 'none recorded'})\nEnded: {ending(row, [], 0)}"
    steps, calls = read_steps(path)
    head = summary(row, steps, calls)
    rendered = [render_step(i, s, output_chars) for i, s in enumerate(steps, start=1)]
    body = fit_steps(rendered, max_chars - len(head) - 20)
    text = f"{head}\nSteps ({len(steps)}):\n" + "\n".join(body)
    if len(text) > max_chars:  # a budget smaller than the summary itself
        text = text[: max_chars - 40] + "\n" + CUT.format(n=len(text) - max_chars + 40)
    return text
