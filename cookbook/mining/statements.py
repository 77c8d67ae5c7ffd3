"""A mined task's problem statement: what the change fixes or adds, from what the history says of it (the
commit message, and where the repository merges pull requests the merge's text — GitHub puts the pull
request's title there — and the messages of the branch's own commits; `history.statement_material`).

With a judge's model configured (a provider variable is set: `cookbook.llm.endpoints`), that text is
rewritten by it into an issue that states the problem without the solution and without naming the tests
that check it; the model never sees the diff. A rewrite that still names one of the task's FAIL_TO_PASS
tests is not used. Offline (no provider variable), the statement is the history's text alone.
"""

from __future__ import annotations

import re

from cookbook.grading import test_name
from cookbook.llm.client import LLMClient

SYSTEM = (
    "You turn what a repository's maintainers wrote about a change into the issue that the change resolves, "
    "for a benchmark in which a coding agent must make the change from the issue alone."
)
REQUEST = """\
Repository: {repo}

What the maintainers wrote when they made the change (commit and pull-request messages):
---
{material}
---

Write the issue this change resolves, as someone would have reported it before the change was made: what is
wrong or missing, how it shows, what is expected instead. Keep every concrete detail the text gives about
the behaviour (names of public functions, options, error messages).
- Do not say how to fix or implement it, and do not describe the change itself.
- Do not name or describe any test; in particular not: {tests}.
- Answer with the issue's text only: a one-line title, a blank line, then the description.
"""


def test_names(tests: list[str]) -> list[str]:
    """The names a statement must not give away: each test's own name (`test_x` of `tests/a.py::T::test_x[1]`)."""
    return sorted({test_name(t) for t in tests} - {""})


def names_a_test(text: str, tests: list[str]) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) for name in test_names(tests))


def problem_statement(material: str, repo: str, fail_to_pass: list[str], client: LLMClient | None) -> str:
    """The task's problem statement: `material` rewritten by `client`'s model, else `material` itself."""
    if client is None or not material.strip():
        return material
    from cookbook.llm.models import default_answer_tokens

    messages = [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": REQUEST.format(repo=repo, material=material, tests=", ".join(test_names(fail_to_pass))),
        },
    ]
    reply = client.chat(messages, max_tokens=default_answer_tokens(client.model))
    text = reply.text.strip()
    if reply.cut or not text or names_a_test(text, fail_to_pass):
        return material
    return text


def statement_client() -> LLMClient | None:
    """A client of the judge's model when one is configured (a provider variable is set), else None."""
    from cookbook.llm.endpoints import endpoint_for, offline

    return None if offline() else LLMClient(endpoint_for(role="judge"))
