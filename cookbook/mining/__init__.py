"""Mining: SWE-bench-format tasks from a repository's own history, validated, so that rules are learned on
the repository a user cares about.

- `history.py`: the history read as changes (a pull request's merge as one change, its first parent as the
  base), split into the code's patch and the tests' patch, with the repository's version;
- `miner.py`: the candidates run in environments built from the repository (`cookbook.images`), FAIL_TO_PASS
  and PASS_TO_PASS read from their tests, kept only when `validate_benchmark` passes; the summary;
- `statements.py`: problem statements from the history's text (rewritten by the judge's model when one is
  configured).

`python -m cookbook mine --repo PATH --since … --until … --out tasks.jsonl` mines into a file; a dataset named
`mine:PATH` (the notebook's `DATASET`, `run_act`, `validate-benchmark`) is mined on first use into the cookbook
dir (`dataset_file`). Mined rows carry `mined_from`, the commit of their change: `is_mined` tells mined data,
which the loop splits by date by default.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

MINE_PREFIX = "mine:"
DEFAULT_DAYS = 183  # `mine:PATH` without `since`: the half year before the repository's last commit
DEFAULT_MAX = 50  # `mine:PATH` without `max`: mining is slow (an image and four test runs per candidate)


def is_mined(dataset: str) -> bool:
    """True for `mine:PATH` and for a JSON / JSONL file the miner wrote (its rows carry `mined_from`)."""
    if dataset.startswith(MINE_PREFIX):
        return True
    path = Path(dataset)
    if not dataset.endswith((".json", ".jsonl")) or not path.is_file():
        return False
    try:
        with open(path) as f:
            first = f.readline() if dataset.endswith(".jsonl") else f.read()
        row = json.loads(first)
    except (OSError, ValueError):
        return False
    row = row[0] if isinstance(row, list) and row else row
    return isinstance(row, dict) and "mined_from" in row


def dataset_file(dataset: str, progress: bool = True) -> str:
    """`dataset` itself, or for `mine:PATH[?since=YYYY-MM-DD&until=YYYY-MM-DD&max=N]` the file of the tasks
    mined from PATH's history (mined now, into `<cookbook dir>/mined/`, unless a finished run left it)."""
    if not dataset.startswith(MINE_PREFIX):
        return dataset
    from cookbook.mining.history import History
    from cookbook.mining.miner import mine, summary_path
    from cookbook.paths import cookbook_dir

    path, _, query = dataset.removeprefix(MINE_PREFIX).partition("?")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    history = History(path)
    last = datetime.fromisoformat(history.git("log", "-1", "--format=%cI", "HEAD")).date()
    until = _day(options.get("until"), last, dataset)
    since = _day(options.get("since"), until - timedelta(days=DEFAULT_DAYS), dataset)
    most = int(options.get("max", DEFAULT_MAX))
    name = history.repo_name().replace("/", "__")
    out = cookbook_dir() / "mined" / name / f"tasks-{since}-{until}-max{most}.jsonl"
    finished = summary_path(out).exists() and json.loads(summary_path(out).read_text()).get("finished")
    if not (finished and out.exists()):
        summary = mine(path, since, until, out, most, progress=progress)
        print(summary.text())
    if not out.read_text().strip():
        from cookbook.data import DatasetError

        raise DatasetError(
            f"{dataset}: no task was kept from {since} to {until} (see {summary_path(out)}); "
            "widen the window (mine:PATH?since=YYYY-MM-DD&until=YYYY-MM-DD)."
        )
    return str(out)


def _day(value: str | None, default: date, dataset: str) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        from cookbook.data import DatasetError

        raise DatasetError(f"{dataset}: {value!r} is not a date (YYYY-MM-DD).") from None
