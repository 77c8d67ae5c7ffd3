"""Instance images: what swebench 5 needs of a row to evaluate it in Docker — `image`, `eval_script`,
`log_parser`, `eval_type` — as current SWE-bench datasets carry them, or made by the project for rows that
carry none (the bundled benchmark, a user's own JSONL with a folder of mirrors).

- `environment.py`: what a repository at a commit needs (its Python, its dependencies as of its date, its
  test command and swebench's log parser for it), read from the row and the repository's files;
  `repositories.py`: the little known of particular repositories where those are silent.
- `base.py`: a base image per Python (Debian's 3.9 / 3.11 / 3.13, or the registry's python:X.Y).
- `instance.py`: an environment image per repository and environment, an instance image per instance.
- `eval_script.py`: the eval script, in SWE-bench's shape.
- `build.py`: building with the Docker SDK, logs kept under `<cookbook dir>/images/logs/`.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from cookbook.images.build import BuildFailed
from cookbook.seams import HarnessError

SPEC_FIELDS = ("image", "eval_script", "log_parser", "eval_type")


def _present(value) -> bool:
    return isinstance(value, str) and bool(value.strip())  # a table's missing cell is NaN, not ""


def missing_spec_fields(row: dict) -> list[str]:
    return [f for f in SPEC_FIELDS if not _present(row.get(f))]


def carries_images(rows: list[dict]) -> bool:
    """True when the dataset's rows name their instance images (their environments live there)."""
    return any(_present(row.get("image")) for row in rows)


def refuse_images(rows: list[dict]) -> None:
    """Raise HarnessError when rows name instance images: the local harness cannot run them."""
    if carries_images(rows):
        named = [r["instance_id"] for r in rows if _present(r.get("image"))]
        raise HarnessError(
            f"{len(named)} instance(s) name an instance image ({', '.join(named[:3])}…): their environments "
            "live in those images, which the local harness does not use. Use harness='docker' (or 'modal'), "
            "or leave the harness unset to follow the data."
        )


def with_spec(instance: dict, repos_dir: Path | str | None = None) -> dict:
    """The row with swebench 5's fields: its own when it carries all of them; made by the project (images
    built when missing) when it carries none; a row with only some of them is an error (say which)."""
    if not _check_partial(instance):
        return instance
    from cookbook.images.environment import log_parser
    from cookbook.images.eval_script import EVAL_TYPE, make_eval_script
    from cookbook.images.instance import instance_image

    return {
        **instance,
        "image": instance_image(instance, repos_dir),
        "eval_script": make_eval_script(instance),
        "log_parser": log_parser(instance["repo"]),
        "eval_type": EVAL_TYPE,
    }


def _check_partial(instance: dict) -> bool:
    """True when the project must make the row's fields; raise for a row that carries only some."""
    missing = missing_spec_fields(instance)
    if 0 < len(missing) < len(SPEC_FIELDS):
        raise HarnessError(
            f"{instance['instance_id']} carries some of swebench's fields but lacks {', '.join(missing)}; "
            f"give a row all of {', '.join(SPEC_FIELDS)} (a current SWE-bench dataset) or none (the project "
            "then builds its image from the repository)."
        )
    return bool(missing)


def check_spec_fields(instances: list[dict]) -> int:
    """Raise HarnessError for a row that carries only some of swebench's fields; return how many rows
    the project must make them for."""
    return sum(_check_partial(inst) for inst in instances)


def with_specs(
    instances: list[dict], repos_dir: Path | str | None = None, progress: bool = False
) -> tuple[list[dict], dict[str, Exception]]:
    """`with_spec` for every row, with a progress bar over the rows whose images the project makes:
    (the rows that have their fields, {instance_id: why its environment or checkout could not be made}). One
    row's failure never stops the others."""
    from cookbook.data.repositories import WorkspaceError

    rows, failed = [], {}
    to_build = check_spec_fields(instances)  # every row checked before any build
    with tqdm(total=to_build, desc="instance images", disable=not (progress and to_build)) as bar:
        for inst in instances:
            try:
                rows.append(with_spec(inst, repos_dir))
            except (BuildFailed, WorkspaceError) as e:  # the environment's or the repository's: this row's
                failed[inst["instance_id"]] = e
            bar.update(bool(missing_spec_fields(inst)))
    return rows, failed
