"""A user's own dataset: a small repository made here, its mirror in a folder, and a JSONL of two tasks in
SWE-bench's format without any image field (the project builds their images)."""

import json
import subprocess
from pathlib import Path

CALC_BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mean(values):\n    return sum(values) / len(values)\n"
CALC_ADD_FIXED = CALC_BUGGY.replace("a - b", "a + b")
CALC_FIXED = CALC_ADD_FIXED.replace(
    "    return sum(values)", '    if not values:\n        raise ValueError("mean of nothing")\n    return sum(values)'
)
TESTS = (
    "from calc import add, mean\n\n\ndef test_add_zero():\n    assert add(0, 0) == 0\n\n\n"
    "def test_mean():\n    assert mean([2, 4]) == 3\n"
)
TEST_ADD = "\n\ndef test_add():\n    assert add(2, 3) == 5\n"
TEST_MEAN_FILE = (
    "import pytest\n\nfrom calc import mean\n\n\ndef test_mean_of_one():\n    assert mean([7]) == 7\n\n\n"
    "def test_mean_of_nothing_raises():\n    with pytest.raises(ValueError):\n        mean([])\n"
)


def _git(work: Path, *args: str) -> str:
    identity = ["-c", "user.name=user", "-c", "user.email=user@example.invalid", "-c", "commit.gpgSign=false"]
    return subprocess.run(["git", *identity, *args], cwd=work, check=True, capture_output=True, text=True).stdout


def _task(work: Path, number: int, files: dict[str, str], issue: str, f2p: list[str], p2p: list[str]) -> dict:
    """Write `files`, take the gold patch (source) and the test patch (tests/) from the change, commit it."""
    base = _git(work, "rev-parse", "HEAD").strip()
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    _git(work, "add", "-A")
    gold, test_patch = _git(work, "diff", "--cached", "--", "calc.py"), _git(work, "diff", "--cached", "--", "tests")
    _git(work, "commit", "-qm", f"task {number}")
    return {
        "instance_id": f"acme__calc-{number}",
        "repo": "acme/calc",
        "base_commit": base,
        "problem_statement": issue,
        "patch": gold,
        "test_patch": test_patch,
        "FAIL_TO_PASS": json.dumps(f2p),
        "PASS_TO_PASS": json.dumps(p2p),
        "version": "1.0",
        "created_at": f"2024-0{number}-01T00:00:00Z",
    }


def make_user_dataset(root: Path) -> tuple[Path, Path]:
    """(tasks.jsonl, mirrors folder) of the repository `acme/calc`."""
    work = root / "calc"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    (work / "calc.py").write_text(CALC_BUGGY)
    (work / "tests").mkdir()
    (work / "tests" / "test_calc.py").write_text(TESTS)
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "calc")
    first = _task(
        work,
        1,
        {"calc.py": CALC_ADD_FIXED, "tests/test_calc.py": TESTS + TEST_ADD},
        "# add() subtracts\n\n`add(2, 3)` returns -1.",
        ["tests/test_calc.py::test_add"],
        ["tests/test_calc.py::test_add_zero", "tests/test_calc.py::test_mean"],
    )
    second = _task(
        work,
        2,
        {"calc.py": CALC_FIXED, "tests/test_mean.py": TEST_MEAN_FILE},
        "# mean([]) divides by zero\n\nIt should raise ValueError.",
        ["tests/test_mean.py::test_mean_of_nothing_raises"],
        ["tests/test_mean.py::test_mean_of_one"],
    )
    second["test_cmd"] = "python -m pytest -rA --color=no -p no:cacheprovider -x"  # a task's own test command
    mirrors = root / "mirrors"
    subprocess.run(["git", "clone", "-q", "--mirror", str(work), str(mirrors / "acme__calc.git")], check=True)
    dataset = root / "tasks.jsonl"
    dataset.write_text("".join(json.dumps(task) + "\n" for task in (first, second)))
    return dataset, mirrors
