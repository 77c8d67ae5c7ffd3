"""What the project knows of particular repositories where their rows, their files and swebench 5 are all
silent. swebench 5 keeps only each repository's log parser (`swebench.harness.log_parsers`); the test
commands below are the ones SWE-bench's own harness used (swebench 4's specifications), and every entry
says why it is here. A repository not listed runs `pytest -rA` on the files of its test patch, graded by
swebench's parser for it (pytest's by default). Adding a repository is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class KnownRepository:
    test_cmd: str = ""  # the command the test files (or modules) are appended to; "" = pytest
    test_modules: bool = False  # name tests as dotted modules relative to tests/ (Django's runner), not as files
    env: dict[str, str] = field(default_factory=dict)  # set when the tests run
    needs_network_before: str = ""  # the suite reaches the internet when the row's version is older than this
    why: str = ""


KNOWN_REPOSITORIES: dict[str, KnownRepository] = {
    "django/django": KnownRepository(
        test_cmd="./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1",
        test_modules=True,
        why="Django runs its tests with its own runner (tests/runtests.py), which takes dotted module names.",
    ),
    "sympy/sympy": KnownRepository(
        test_cmd="bin/test -C --verbose",
        env={"PYTHONWARNINGS": "ignore::UserWarning,ignore::SyntaxWarning"},
        why="SymPy runs its tests with its own runner (bin/test); its log is read by swebench's sympy parser.",
    ),
    "psf/requests": KnownRepository(
        needs_network_before="2.10",
        why=(
            "requests' suites before 2.10 call httpbin.org over the internet (later ones use a local "
            "pytest-httpbin), and never run on these machines."
        ),
    ),
}


def known_repository(repo: str) -> KnownRepository:
    return KNOWN_REPOSITORIES.get(repo, KnownRepository())
