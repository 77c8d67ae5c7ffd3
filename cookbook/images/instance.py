"""Images for rows that carry none: an environment image per repository and environment, and a thin
instance image per instance on top of it.

- The **environment image** is the base image of the chosen Python (`cookbook.images.base`) with a
  virtualenv at /opt/venv (first on PATH) holding the repository's dependencies as they were on the
  environment's date, and the repository at its environment commit (`environment_setup_commit`, else the
  base commit) installed in it — everything `cookbook.images.environment.plan_environment` reads from the
  row and the repository. Rows of one repository and environment share it.
- The **instance image** replaces /testbed with the instance's base commit and installs the project again
  (without its dependencies), so compiled extensions and entry points match that commit.

Both are made by running a script in a container and committing it (`build.commit_image`): a failed build
leaves no container and no image, and its log is kept under `<cookbook dir>/images/logs/`. The checkouts
are self-contained (their objects copied out of the mirror) and hold no history after their commit, like
the workspaces. Each tag holds a hash of its inputs, so an image is reused until an input changes. Builds of
the same image by parallel runs wait for each other (a file lock); a build that failed is not tried again
by the same process (the other instances of its environment fail at once, naming the same log).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from packaging.version import InvalidVersion, Version

from cookbook.data.repositories import WorkspaceError, mirror_for
from cookbook.files import atomic_write_text, file_lock
from cookbook.git import GitError, git
from cookbook.images.base import available_pythons, ensure_base_image
from cookbook.images.build import BuildFailed, commit_image, image_exists, image_id, inputs_hash
from cookbook.images.environment import PLANNER_VERSION, EnvironmentPlan, plan_environment
from cookbook.paths import cookbook_dir
from cookbook.workspaces.checkout import prepare_workspace

ENV_TIMEOUT, INSTANCE_TIMEOUT = 3600.0, 1800.0  # seconds a build may take (compiled repositories are slow)
UV_STEP_TIMEOUT = 900  # seconds one installation step may take
VENV_PATH = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LAYOUT = "2"  # bump when what every image holds changes (its settings, where things are)
_FAILED: dict[str, BuildFailed] = {}  # tag → its failure, in this process

PREAMBLE_TEMPLATE = """\
set -uxo pipefail
fail() { echo "cookbook: $*"; exit 1; }
# downloads are kept on the host between builds (mounted at /uv-cache), never in an image
if [ -d /uv-cache ]; then unset UV_NO_CACHE; export UV_CACHE_DIR=/uv-cache UV_LINK_MODE=copy; fi
# packages as they were on $DATE (a resolution that backtracks for ever counts as failed); a package with no
# release left from before $DATE (its author deleted them, as atomicwrites' did) is taken as it is now
uvi() {
  local status later=()
  timeout {uv_timeout} uv pip install --python /opt/venv/bin/python --exclude-newer "$DATE" "$@" 2>&1 | tee /tmp/uv.out
  status=${PIPESTATUS[0]}
  for package in $(grep -o '`[^`]*` was filtered by `exclude-newer`' /tmp/uv.out | cut -d'`' -f2 | sort -u); do
    later+=(--exclude-newer-package "$package=$(date -u +%Y-%m-%d)")
  done
  if [ "$status" = 0 ] || [ ${#later[@]} = 0 ]; then return "$status"; fi
  timeout {uv_timeout} uv pip install --python /opt/venv/bin/python --exclude-newer "$DATE" "${later[@]}" "$@"
}
# the project's own dependencies (and extras), from the first file that declares them; its metadata built in
# isolation, else against this environment
deps() {
  local metadata project=. tags='^[[:space:]]*tag_(date|build)[[:space:]]*='
  if grep -qE "$tags" setup.cfg 2>/dev/null; then  # a dated .dev version tag, which today's tools reject
    rm -rf /tmp/project && cp -a . /tmp/project && sed -i -E "/$tags/d" /tmp/project/setup.cfg
    project=/tmp/project
  fi
  for metadata in pyproject.toml setup.py setup.cfg; do
    [ -f "$project/$metadata" ] || continue
    uvi -r "$project/$metadata" "$@" && return
    uvi --no-build-isolation -r "$project/$metadata" "$@" && return
  done
  return 1
}
# the project, editable, without its dependencies: PEP 660, else `setup.py develop` (setuptools before 64),
# in place of any release of it that a test requirement brought in; a checkout has no tags, so setuptools_scm
# is told the row's version (for the project alone: its dependencies' builds have their own)
install_project() {
  export SETUPTOOLS_SCM_PRETEND_VERSION=$VERSION
  python -m pip install --no-deps --no-build-isolation -e . && return
  if [ -f setup.py ]; then
    name=$(python setup.py --name 2>/dev/null | tail -1)
    if [ -n "$name" ]; then python -m pip uninstall -y "$name"; fi
    python setup.py develop --no-deps && return
  fi
  # a setuptools before 64 and no setup.py: a setuptools that can install editable, as of the date if any
  uvi 'setuptools>=64' || uv pip install --python /opt/venv/bin/python 'setuptools>=64'
  python -m pip install --no-deps --no-build-isolation -e .
}
"""

ENV_SCRIPT = """\
#!/bin/bash
# The environment of {repo} at {commit}: Python {python} ({python_why});
# dependencies as of {date} (retried as of {later_date} when nothing then supported this Python).
# Requirements from: {sources}
{preamble}
cp -a /context/testbed /testbed || fail "copying the checkout failed"
cd /testbed
cookbook-python -m venv /opt/venv || fail "making the virtualenv failed"
export VIRTUAL_ENV=/opt/venv PATH={path} VERSION={version}
uv pip install --python /opt/venv/bin/python -q --upgrade pip || fail "installing pip failed"
DATE={date}
uvi {first} || {{ DATE={later_date}; uvi {first}; }} \\
  || fail "the build requirements and the test runner ({first_words}) cannot be installed as of {date} or {later_date}"
if [ -s /context/requirements.txt ]; then
  uvi -r /context/requirements.txt || while read -r requirement; do
    uvi "$requirement" || echo "cookbook: skipped the requirement $requirement (it cannot be installed here)"
  done < /context/requirements.txt
fi
{project}
"""

PROJECT_STEPS = """\
deps {extras} || deps {test_extras} || deps || fail "the project's dependencies cannot be installed as of $DATE"
install_project || fail "installing the project (pip install -e . or setup.py develop) failed"
"""

INSTANCE_SCRIPT = """\
#!/bin/bash
# {instance_id}: the repository at {commit}, installed again on its environment
{preamble}
rm -rf /testbed && cp -a /context/testbed /testbed || fail "copying the checkout failed"
cd /testbed
VERSION={version} DATE={date}
{install}
"""


PREAMBLE = PREAMBLE_TEMPLATE.replace("{uv_timeout}", str(UV_STEP_TIMEOUT))


def images_dir() -> Path:
    return cookbook_dir() / "images"


def docker_name(text: str) -> str:
    """`text` as a component of an image's repository name (lower case; `.`, `_`, `__`, `-` between words)."""

    def separator(match: re.Match) -> str:
        sep = match.group()
        return sep if sep in (".", "_", "__") or set(sep) == {"-"} else "-"

    return re.sub(r"[^a-z0-9]+", separator, text.lower().replace("/", "__")).strip("._-") or "x"


def docker_tag(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:100]


def environment_commit(instance: dict) -> str:
    commit = instance.get("environment_setup_commit")
    return commit if isinstance(commit, str) and commit else instance["base_commit"]  # a table's gap is NaN


def instance_image(instance: dict, repos_dir: Path | str | None = None) -> str:
    """The name of `instance`'s image, built (with its environment image and base) when missing. Raises
    BuildFailed (naming the log) when the environment or the instance cannot be built."""
    env, plan = environment_image(instance, repos_dir)
    script = INSTANCE_SCRIPT.format(
        instance_id=instance["instance_id"],
        commit=instance["base_commit"],
        version=shlex.quote(plan.version or "0"),
        install=_instance_install(plan),
        date=plan.date,
        preamble=PREAMBLE,
    )
    key = inputs_hash(LAYOUT, image_id(env), script, instance["base_commit"])
    tag = f"cookbook/sweb.eval.{docker_name(instance['instance_id'])}:{key}"
    labels = {"cookbook.instance": instance["instance_id"], "cookbook.base_commit": instance["base_commit"]}
    _ensure(tag, env, script, instance, instance["base_commit"], labels, repos_dir, [], INSTANCE_TIMEOUT)
    return tag


def environment_image(instance: dict, repos_dir: Path | str | None = None) -> tuple[str, EnvironmentPlan]:
    """The environment image of `instance`'s repository and environment commit, and its plan."""
    plan = environment_plan(instance, repos_dir)
    base = ensure_base_image(plan.python, images_dir() / "logs")
    commit = environment_commit(instance)
    requirements = "".join(f"{r}\n" for r in plan.requirements)
    script = _env_script(plan, commit)
    key = inputs_hash(LAYOUT, image_id(base), script, requirements, commit, *plan_changes(plan))
    tag = f"cookbook/env.{docker_name(instance['repo'])}:{docker_tag(instance['version'])}-py{plan.python}-{key}"
    labels = {
        "cookbook.repo": instance["repo"],
        "cookbook.version": str(instance["version"]),
        "cookbook.python": plan.python,
    }
    _ensure(tag, base, script, instance, commit, labels, repos_dir, plan_changes(plan), ENV_TIMEOUT, requirements)
    return tag, plan


def plan_changes(plan: EnvironmentPlan) -> list[str]:
    """The environment image's settings: /testbed where commands start, the virtualenv first on PATH, no
    bytecode files in /testbed."""
    env = [
        "WORKDIR /testbed",
        f"ENV VIRTUAL_ENV=/opt/venv PATH={VENV_PATH} PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
    ]
    if not plan.metadata and not plan.install:  # a repository that does not install: its code importable
        env.append("ENV PYTHONPATH=/testbed/src:/testbed")
    return env


def _env_script(plan: EnvironmentPlan, commit: str) -> str:
    first = shlex.join(["pytest", *plan.build_requires])
    extras = " ".join(f"--extra {shlex.quote(e)}" for e in plan.extras)
    test_extras = " ".join(f"--extra {shlex.quote(e)}" for e in plan.test_extras)
    project = PROJECT_STEPS.format(extras=extras, test_extras=test_extras)
    if plan.install:  # the row says how it installs
        project = f'{plan.install} || fail "the row\'s install command failed"\n'
    elif not plan.metadata:
        project = ""
    return ENV_SCRIPT.format(
        repo=plan.repo,
        commit=commit,
        python=plan.python,
        python_why=plan.python_why,
        date=plan.date,
        later_date=plan.later_date,
        sources=", ".join(plan.requirement_sources) or "none",
        path=VENV_PATH,
        version=shlex.quote(plan.version or "0"),
        preamble=PREAMBLE,
        first=first,
        first_words=" ".join(["pytest", *plan.build_requires]),
        project=project,
    )


def _instance_install(plan: EnvironmentPlan) -> str:
    if plan.install:
        return f'{plan.install} || fail "the row\'s install command failed at the base commit"'
    if plan.metadata:  # what this commit needs beyond its environment's commit (best effort), then itself
        return (
            'deps || echo "cookbook: kept the environment\'s packages"\n'
            'install_project || fail "installing the project at the base commit failed"'
        )
    return ":"


def environment_plan(instance: dict, repos_dir: Path | str | None = None) -> EnvironmentPlan:
    """The plan of `instance`'s environment, read from a checkout of its environment commit (kept in
    `<images dir>/plans/` so that later runs need no checkout to name the image)."""
    commit = environment_commit(instance)
    pythons = available_pythons()
    inputs = inputs_hash(
        PLANNER_VERSION, instance["repo"], commit, *pythons, str(instance["version"]), instance.get("install") or ""
    )
    stored = images_dir() / "plans" / f"{docker_name(instance['repo'])}-{commit[:12]}-{inputs}.json"
    if stored.exists():
        return EnvironmentPlan(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(stored.read_text()).items()}
        )
    with tempfile.TemporaryDirectory(prefix="cookbook-plan-") as tmp:
        checkout = prepare_workspace({**instance, "base_commit": commit}, root=Path(tmp), repos_dir=repos_dir)
        when = datetime.fromisoformat(git("log", "-1", "--format=%cI", commit, cwd=checkout))
        plan = plan_environment(instance, checkout, pythons, when)
    plan = dataclasses.replace(plan, version=released_version(instance, commit, repos_dir))
    atomic_write_text(stored, plan.key())
    return plan


def released_version(instance: dict, commit: str, repos_dir: Path | str | None = None) -> str:
    """The version setuptools_scm is told, since a checkout has no tags: the newer of the row's `version` and
    the last release tag before `commit` in the repository's copy (xarray's rows say 0.12 where its code is
    0.16, and pandas refuses an xarray older than 0.12.3)."""
    row = str(instance.get("version") or "")
    try:
        tag = git("describe", "--tags", "--abbrev=0", commit, cwd=mirror_for(instance["repo"], repos_dir))
    except (GitError, WorkspaceError):  # no tag before it, or no copy to read
        return row
    found = re.search(r"\d+(\.\d+)+", tag)
    versions = [v for v in (row, found.group(0) if found else "") if v]
    try:
        return max(versions, key=Version, default="")
    except InvalidVersion:
        return row


def _ensure(tag, source, script, instance, commit, labels, repos_dir, changes, timeout, requirements="") -> None:
    """Build `tag` unless it exists: `script` run on `source` with a checkout of `commit` at /context/testbed."""
    if tag in _FAILED:
        raise _FAILED[tag]
    if image_exists(tag):
        return
    name = tag.replace("/", "_").replace(":", "_")
    with file_lock(images_dir() / "locks" / f"{name}.lock"):
        if image_exists(tag):  # built by a parallel run while this one waited
            return
        with tempfile.TemporaryDirectory(prefix="cookbook-image-") as tmp:
            context = Path(tmp)
            standalone_checkout({**instance, "base_commit": commit}, context / "testbed", repos_dir)
            (context / "build.sh").write_text(script)
            (context / "requirements.txt").write_text(requirements)
            try:
                log = images_dir() / "logs" / f"{name}.log"
                commit_image(tag, source, context, changes, labels, log, timeout, cache=images_dir() / "uv-cache")
            except BuildFailed as e:
                _FAILED[tag] = e
                raise


def standalone_checkout(instance: dict, dest: Path, repos_dir: Path | str | None = None) -> None:
    """A checkout of the instance's repository at its base commit at `dest`, with its own copy of the
    objects it reaches (none of the mirror's later history), for an image's /testbed."""
    workspace = prepare_workspace(instance, root=dest.parent, repos_dir=repos_dir)
    try:
        git("repack", "-a", "-d", "-q", cwd=workspace)  # the borrowed objects, copied in
        (workspace / ".git" / "objects" / "info" / "alternates").unlink()
        workspace.rename(dest)
    except GitError as e:  # a copy that lacks objects of the commit's history: that row's, not the batch's
        shutil.rmtree(workspace, ignore_errors=True)
        raise WorkspaceError(
            f"the copy of {instance['repo']} lacks objects that {instance['base_commit'][:12]} reaches "
            f"(fetch it again): {str(e).splitlines()[-1][:200]}"
        ) from e
    except BaseException:
        shutil.rmtree(workspace, ignore_errors=True)
        raise
