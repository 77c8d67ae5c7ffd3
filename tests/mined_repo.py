"""Repositories whose history is mined in the tests, made here with fixed names and dates (so their commits,
and the images built for them, are the same in every session).

`make_widgets(root)`: `acme/widgets`, a working tree whose origin is on GitHub, with the history a miner meets:
- 0.9 (a setup.py that cannot be installed): a fix with its test — its environment cannot be built;
- the move to pyproject.toml (1.0), code only — not a candidate;
- pull request #7, merged with a merge commit (the fix and its test in two commits on the branch): kept;
- a refactor with a new test that passes before it too: no FAIL_TO_PASS;
- documentation only — not a candidate;
- pull request #9, squash-merged (`… (#9)`), with a changelog entry: kept, the changelog left out of its patch;
- pull request #11, a new function and a new test module that imports it: its test cannot even be collected
  without the fix, which the docker harness takes for an environment where the tests do not run.
"""

import os
import subprocess
from pathlib import Path

SETUP_BROKEN = (
    "from setuptools import setup\n\n"
    'raise SystemExit("this package cannot be installed")\nsetup(name="widgets", version="0.9.0")\n'
)
PYPROJECT = (
    '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
    '[project]\nname = "widgets"\nversion = "1.0.0"\nrequires-python = ">=3.9"\n\n'
    '[tool.setuptools]\npy-modules = ["widgets"]\n'
)
SHOUT = 'def shout(text):\n    return text.upper() + "!"\n'
SHOUT_NOTHING = 'def shout(text):\n    return (text or "nothing").upper() + "!"\n'
SHOUT_REFACTORED = "def shout(text):\n    return f\"{(text or 'nothing').upper()}!\"\n"
SHOUT_STRIPS = (
    "def shout(text, strip=False):\n    text = text.strip() if strip else text\n"
    "    return f\"{(text or 'nothing').upper()}!\"\n"
)
COUNT = "\n\ndef count(words, word):\n    return len([w for w in words if w == word])\n"
COUNT_FIXED = "\n\ndef count(words, word):\n    return len([w for w in words if w.lower() == word.lower()])\n"
TESTS = "from widgets import count, shout\n\n\ndef test_shout():\n    assert shout('hi') == 'HI!'\n"
TEST_NOTHING = "\n\ndef test_shout_nothing():\n    assert shout('') == 'NOTHING!'\n"
TEST_COUNT = "\n\ndef test_count_ignores_case():\n    assert count(['a', 'A', 'b'], 'a') == 2\n"
TEST_TWICE = "\n\ndef test_shout_twice():\n    assert shout(shout('a')) == 'A!!'\n"
TEST_STRIP = "\n\ndef test_shout_strips():\n    assert shout('  hi ', strip=True) == 'HI!'\n"
TEST_WHISPER = "from widgets import whisper\n\n\ndef test_whisper():\n    assert whisper('HI') == 'hi...'\n"
WINDOW = ("2024-01-01", "2024-03-31")
F2P = {
    "acme__widgets-7": ["tests/test_w.py::test_count_ignores_case"],
    "acme__widgets-9": ["tests/test_w.py::test_shout_strips"],
}


def git(work: Path, *args: str, when: str = "2024-01-01T12:00:00Z") -> str:
    env = {
        **os.environ,
        **{f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER") for what, value in (("DATE", when),)},
        **{f"GIT_{who}_NAME": "Dev" for who in ("AUTHOR", "COMMITTER")},
        **{f"GIT_{who}_EMAIL": "dev@example.invalid" for who in ("AUTHOR", "COMMITTER")},
    }
    done = subprocess.run(
        ["git", "-c", "commit.gpgSign=false", *args], cwd=work, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def commit(work: Path, files: dict[str, str | None], message: str, when: str) -> str:
    for path, text in files.items():
        if text is None:
            (work / path).unlink()
            continue
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message, when=when)
    return git(work, "rev-parse", "HEAD")


def make_widgets(root: Path) -> Path:
    work = root / "widgets"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", "https://github.com/acme/widgets.git")
    files = {"setup.py": SETUP_BROKEN, "widgets.py": SHOUT + COUNT, "tests/test_w.py": TESTS}
    commit(work, files, "widgets 0.9", "2024-01-02T10:00:00Z")
    files = {"widgets.py": SHOUT_NOTHING + COUNT, "tests/test_w.py": TESTS + TEST_NOTHING}
    commit(work, files, "shout() of nothing says NOTHING", "2024-01-05T10:00:00Z")
    commit(work, {"setup.py": None, "pyproject.toml": PYPROJECT}, "Move to pyproject.toml", "2024-02-01T10:00:00Z")
    git(work, "checkout", "-q", "-b", "fix-count")
    commit(work, {"widgets.py": SHOUT_NOTHING + COUNT_FIXED}, "compare words in lower case", "2024-02-08T10:00:00Z")
    commit(work, {"tests/test_w.py": TESTS + TEST_NOTHING + TEST_COUNT}, "test count()", "2024-02-08T11:00:00Z")
    git(work, "checkout", "-q", "main")
    merge = "Merge pull request #7 from acme/fix-count\n\ncount() treats 'A' and 'a' as different words"
    git(work, "merge", "-q", "--no-ff", "-m", merge, "fix-count", when="2024-02-10T10:00:00Z")
    tests = TESTS + TEST_NOTHING + TEST_COUNT + TEST_TWICE
    files = {"widgets.py": SHOUT_REFACTORED + COUNT_FIXED, "tests/test_w.py": tests}
    commit(work, files, "shout() with an f-string, and a test of shouting twice", "2024-02-20T10:00:00Z")
    commit(work, {"README.md": "# widgets\n", "docs/index.rst": "widgets\n"}, "Document", "2024-03-01T10:00:00Z")
    message = "shout() cannot strip its text (#9)\n\nshout('  hi ') keeps the spaces.\n\nCo-authored-by: X <x@y.z>"
    files = {"widgets.py": SHOUT_STRIPS + COUNT_FIXED, "tests/test_w.py": tests + TEST_STRIP, "CHANGES.rst": "strip\n"}
    commit(work, files, message, "2024-03-05T10:00:00Z")
    whisper = SHOUT_STRIPS + COUNT_FIXED + "\n\ndef whisper(text):\n    return text.lower() + '...'\n"
    files = {"widgets.py": whisper, "tests/test_whisper.py": TEST_WHISPER}
    commit(work, files, "Add whisper() (#11)", "2024-03-10T10:00:00Z")
    return work
