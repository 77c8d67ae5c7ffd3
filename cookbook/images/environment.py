"""What environment a Python repository at a commit needs, read from the row and the repository alone.

`plan_environment(instance, checkout, pythons)` reads a checkout of the row's `environment_setup_commit`
(else its base commit) and returns an `EnvironmentPlan`; `cookbook.images.instance` builds it. Nothing here
names an instance: knowledge comes from the row, the repository's files, swebench's tables (the log parser
per repository) and the small table in `cookbook.images.repositories`.

- **Python**: among the Pythons this machine can give (`cookbook.images.base.available_pythons`), the ones
  the repository allows (`python_requires` / `requires-python`); of those, the newest it declares
  (classifiers, tox's envlist, CI matrices) that was out two months before the environment's date; else the
  newest out by then within what it declares (or anything, when it declares nothing); else the nearest one
  newer than what it declares (a 2017 repository that lists 3.6 gets 3.9 where 3.9 is the oldest here).
- **Date**: dependencies resolve as they were on one day (`uv pip install --exclude-newer`): the
  environment commit's committer date, or, for a Python that was not yet out then (a 2017 repository on
  3.9), the day that Python came out plus `LATER_BY_DAYS`, when packages supported it; if the build
  requirements and the test runner cannot be installed as of that day, `LATER_BY_DAYS` later.
- **Dependencies**: tox's `deps` for its default test environments (requirement files included), else the
  first test requirement file found (`requirements/tests.txt`, `requirements-dev.txt`, …), else
  `requirements.txt`; the project's own dependencies with its test and development extras (`test`,
  `tests`, `testing`, `dev` …; else with its test extras alone, else none; a resolution that takes more
  than `UV_STEP_TIMEOUT` seconds counts as failed) — not its optional features: their packages may need
  system libraries the image lacks, and a repository's tests skip what is missing; pytest; the build
  system's requirements, and the packages `setup.py` imports at build time (numpy, Cython …), installed
  first and built against without isolation.
- **Tests**: the test files of the row's `test_patch` (Django: as modules), run by the row's `test_cmd`, else
  the repository's known command, else `python -m pytest -rA`; read by swebench's parser for the repository.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from cookbook.images.base import PYTHON_RELEASED
from cookbook.images.repositories import known_repository

PLANNER_VERSION = "3"  # part of a stored plan's key: bump when what is read from a repository changes
DEFAULT_TEST_CMD = "python -m pytest -rA --color=no -p no:cacheprovider"  # the test files are appended
DEFAULT_LOG_PARSER = "parse_log_pytest"
MARGIN = timedelta(days=60)  # a Python is "out" for a repository two months after its release
LATER_BY_DAYS = 180  # dependencies as of a Python's release plus this, when none existed for it at the date
TEST_EXTRAS = ("test", "tests", "testing")
DEV_EXTRAS = ("dev", "develop", "development")  # what a contributor installs to run the tests
TEST_REQUIREMENT_FILES = (
    "requirements/tests.txt",
    "requirements/test.txt",
    "requirements/testing.txt",
    "requirements-test.txt",
    "requirements-tests.txt",
    "requirements_test.txt",
    "requirements_tests.txt",
    "test-requirements.txt",
    "test_requirements.txt",
    "tests/requirements.txt",
    "requirements/dev.txt",
    "requirements-dev.txt",
    "requirements_dev.txt",
    "dev-requirements.txt",
)
# Imported by a setup.py at build time: then built without isolation, with these installed first.
BUILD_IMPORTS = {"numpy": "numpy", "Cython": "cython", "setuptools_scm": "setuptools_scm", "pybind11": "pybind11"}
NON_TEST_EXTS = (".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml")


@dataclass(frozen=True)
class EnvironmentPlan:
    """One repository's environment at one commit: what `cookbook.images.instance` builds."""

    repo: str
    python: str
    python_why: str
    date: str  # YYYY-MM-DD: dependencies as they were on that day
    later_date: str  # the retry's date when nothing supported the Python at `date`
    requirements: tuple[str, ...] = ()  # requirement specifiers, from `requirement_sources`
    requirement_sources: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()  # the project's test and development extras, installed with it
    test_extras: tuple[str, ...] = ()  # of those, its test extras: all that is installed if the rest fails
    build_requires: tuple[str, ...] = ()  # installed first; the project is built against them (no isolation)
    metadata: str = ""  # the file uv reads the project's dependencies from (pyproject.toml, setup.py, setup.cfg)
    version: str = ""  # for setuptools_scm, where a checkout has no tags (instance.released_version)
    install: str = ""  # the row's own install command, run instead of installing the project with pip

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def plan_environment(instance: dict, checkout: Path, pythons: list[str], when: datetime) -> EnvironmentPlan:
    """The environment of `instance`'s repository, read from `checkout` (its environment commit, made
    `when`), with a Python among `pythons`."""
    files = RepositoryFiles(checkout)
    python, why = choose_python(pythons, files.declared_pythons(), files.python_requires(), when.date())
    requirements, sources = files.test_requirements()
    day, established = when.date(), PYTHON_RELEASED.get(python, date.min) + timedelta(days=LATER_BY_DAYS)
    if PYTHON_RELEASED.get(python, date.min) + MARGIN > day:  # a Python newer than the repository
        day = established
    return EnvironmentPlan(
        repo=instance["repo"],
        python=python,
        python_why=why,
        date=day.isoformat(),
        later_date=max(day, established + timedelta(days=LATER_BY_DAYS)).isoformat(),
        requirements=tuple(requirements),
        requirement_sources=tuple(sources),
        extras=tuple(e for e in (*TEST_EXTRAS, *DEV_EXTRAS) if e in files.extras()),
        test_extras=tuple(e for e in TEST_EXTRAS if e in files.extras()),
        build_requires=tuple(files.build_requires()),
        metadata=files.metadata_file(),
        version=str(instance.get("version") or ""),
        install=instance.get("install") or "",
    )


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def choose_python(pythons: list[str], declared: set[str], requires: str, day: date) -> tuple[str, str]:
    """(Python, why) — see the module's docstring."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        spec = SpecifierSet(requires)
    except InvalidSpecifier:
        spec = SpecifierSet()
    allowed = [v for v in sorted(pythons, key=_version_key) if spec.contains(f"{v}.0", prereleases=True)]
    if not allowed:
        return max(pythons, key=_version_key), f"none here satisfies requires-python {requires!r}; the newest here"
    top = max(declared, key=_version_key) if declared else None

    def out(v: str) -> bool:
        return PYTHON_RELEASED.get(v, date.min) + MARGIN <= day

    declared_out = [v for v in allowed if v in declared and out(v)]
    if declared_out:
        return declared_out[-1], f"the newest it declares ({_listed(declared)}) that was out by {day}"
    within_out = [v for v in allowed if out(v) and (top is None or _version_key(v) <= _version_key(top))]
    if within_out:
        said = f"within what it declares ({_listed(declared)})" if declared else "(it declares no version)"
        return within_out[-1], f"the newest out by {day} {said}"
    declared_later = [v for v in allowed if v in declared]  # declared before its release
    if declared_later:
        return declared_later[0], f"it declares {declared_later[0]} (not yet out by {day})"
    newer = [v for v in allowed if top is not None and _version_key(v) > _version_key(top)]
    if newer:
        return newer[0], f"it declares up to {top}; the nearest newer one here"
    return allowed[0], f"the oldest here that satisfies {requires or 'it'}"


def _listed(versions: set[str]) -> str:
    return ", ".join(sorted(versions, key=_version_key))


PY_VERSION = re.compile(r"(?<![\d.])(3\.\d{1,2})(?![\d])")


class RepositoryFiles:
    """The files of a checkout that say how to install and test it."""

    def __init__(self, root: Path):
        self.root = root

    def text(self, name: str) -> str:
        path = self.root / name
        try:
            return path.read_text(errors="replace") if path.is_file() else ""
        except OSError:
            return ""

    def metadata_file(self) -> str:
        """The file that declares the project's dependencies ("" for a repository that does not install)."""
        if self.pyproject().get("project") or "tool.poetry" in self.text("pyproject.toml"):
            return "pyproject.toml"
        return next((n for n in ("setup.py", "setup.cfg") if (self.root / n).is_file()), "")

    def pyproject(self) -> dict:
        try:
            return tomllib.loads(self.text("pyproject.toml"))
        except tomllib.TOMLDecodeError:
            return {}

    def setup_cfg(self) -> configparser.ConfigParser:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(self.text("setup.cfg"))
        except configparser.Error:
            pass
        return parser

    # -- Python --------------------------------------------------------------------------------------
    def python_requires(self) -> str:
        found = self.pyproject().get("project", {}).get("requires-python", "")
        if not found:
            found = self.setup_cfg().get("options", "python_requires", fallback="")
        if not found:
            match = re.search(r"python_requires\s*=\s*['\"]([^'\"]+)['\"]", self.text("setup.py"))
            found = match.group(1) if match else ""
        return found.strip()

    def declared_pythons(self) -> set[str]:
        """Python 3 versions the repository says it supports: classifiers, tox's envlist, CI matrices."""
        declared = set()
        for name in ("setup.py", "setup.cfg", "pyproject.toml"):
            declared |= set(re.findall(r"Programming Language :: Python :: (3\.\d{1,2})\b", self.text(name)))
        declared |= tox_pythons(self.text("tox.ini"))
        ci_files = [*sorted((self.root / ".github" / "workflows").glob("*.y*ml")), self.root / ".travis.yml"]
        ci_files += [self.root / name for name in ("azure-pipelines.yml", ".circleci/config.yml", "appveyor.yml")]
        for path in ci_files:
            declared |= ci_pythons(self.text(str(path.relative_to(self.root))))
        return declared

    # -- dependencies --------------------------------------------------------------------------------
    def extras(self) -> set[str]:
        names = set(self.pyproject().get("project", {}).get("optional-dependencies", {}))
        cfg = self.setup_cfg()
        if cfg.has_section("options.extras_require"):
            names |= set(cfg.options("options.extras_require"))
        setup_py = self.text("setup.py")
        block = re.search(r"extras_require\s*=\s*(\{.*?\n\s*\})", setup_py, re.S)
        if block:
            names |= set(re.findall(r"['\"]([\w.-]+)['\"]\s*:", block.group(1)))
        return {n for n in names if re.fullmatch(r"[\w.-]+", n) and ":" not in n}

    def build_requires(self) -> list[str]:
        """What building the project needs: its build system's requirements, else setuptools and what its
        setup.py imports (numpy, Cython …)."""
        system = self.pyproject().get("build-system", {})
        if system.get("requires"):
            return list(dict.fromkeys([*system["requires"], "wheel"]))
        setup_py = self.text("setup.py")
        imported = [
            pkg
            for module, pkg in BUILD_IMPORTS.items()
            if re.search(rf"^\s*(from|import)\s+{module}\b", setup_py, re.M)
        ]
        return ["setuptools", "wheel", *imported]

    def test_requirements(self) -> tuple[list[str], list[str]]:
        """(requirement specifiers, the files or sections they came from)."""
        lines, sources = tox_deps(self.text("tox.ini")), []
        if lines:
            sources.append("tox.ini [testenv] deps")
        else:
            found = next((n for n in TEST_REQUIREMENT_FILES if (self.root / n).is_file()), None)
            found = found or ("requirements.txt" if (self.root / "requirements.txt").is_file() else None)
            lines = [f"-r {found}"] if found else []
        requirements = []
        for line in lines:
            requirements += self._expand(line, self.root, sources, depth=0)
        return list(dict.fromkeys(requirements)), sources

    def _expand(self, line: str, base: Path, sources: list[str], depth: int) -> list[str]:
        """One requirement line as specifiers: `-r file` read (recursively), options and local paths dropped."""
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            return []
        match = re.match(r"^(-r|--requirement)\s*=?\s*(\S+)$", line)
        if match:
            path = (base / match.group(2).replace("{toxinidir}/", "").replace("{toxinidir}", "")).resolve()
            if depth > 5 or not path.is_file() or not path.is_relative_to(self.root.resolve()):
                return []
            sources.append(str(path.relative_to(self.root.resolve())))
            found = []
            for sub in path.read_text(errors="replace").splitlines():
                found += self._expand(sub, path.parent, sources, depth + 1)
            return found
        if line.startswith(("-", ".", "/", "{")) or "://" in line or line.startswith("git+"):
            return []  # options, editable or local installs (the project is installed anyway), URLs
        return [line] if _is_requirement(line) else []  # not a local folder such as examples/tutorial[test]


def _is_requirement(line: str) -> bool:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(line)
        return True
    except InvalidRequirement:
        return False


def tox_pythons(tox_ini: str) -> set[str]:
    """The Python 3 versions of tox's envlist (`py36`, `py3{8,9,10}`, `py{37,38}-django`)."""
    match = re.search(r"^envlist\s*=\s*((?:.*\n?)(?:[ \t]+.*\n?)*)", tox_ini, re.M)
    if not match:
        return set()
    versions = set()
    for token in re.findall(r"py(\d?\{[\d,]+\}|\d{2,3})", match.group(1)):
        for digits in _braces(token):
            if len(digits) >= 2 and digits[0] == "3":
                versions.add(f"3.{digits[1:]}")
    return versions


def _braces(token: str) -> list[str]:
    match = re.match(r"^(\d?)\{([\d,]+)\}$", token)
    if not match:
        return [token]
    return [match.group(1) + part for part in match.group(2).split(",") if part]


def ci_pythons(config: str) -> set[str]:
    """Python 3 versions listed under a `python-version` / `python` key of a CI configuration."""
    versions, in_list = set(), False
    for line in config.splitlines():
        key = re.match(r"^\s*-?\s*(python[-_.]?version|python)\s*:(.*)$", line, re.I)
        if key:
            versions |= set(PY_VERSION.findall(key.group(2)))
            in_list = not key.group(2).strip()
        elif in_list and re.match(r"^\s*-\s*['\"]?3\.\d", line):
            versions |= set(PY_VERSION.findall(line))
        else:
            in_list = False
    return versions


def tox_deps(tox_ini: str) -> list[str]:
    """The `deps` of tox's `[testenv]`: plain lines and those of Python factors (`py3: -r …`), not the
    ones of other factors (databases, docs, linters)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(tox_ini)
    except configparser.Error:
        return []
    if not parser.has_option("testenv", "deps"):
        return []
    deps = []
    for line in parser.get("testenv", "deps").splitlines():
        factor = re.match(r"^([\w{},.!-]+):\s+(.*)$", line.strip())
        if factor:
            if not re.match(r"^!?(py|pypy)", factor.group(1)) or factor.group(1).startswith("pypy"):
                continue
            line = factor.group(2)
        deps.append(line.strip())
    return [d for d in deps if d and "{[" not in d]


# -- tests -------------------------------------------------------------------------------------------
def target_test_files(test_patch: str) -> list[str]:
    """The files of a test patch that hold tests (not data), as swebench's harness picks them."""
    return [f for f in patched_files(test_patch) if not f.endswith(NON_TEST_EXTS)]


def patched_files(patch: str) -> list[str]:
    """The files a patch touches (their paths after the patch), in order."""
    from unidiff import PatchSet

    return [f.path for f in PatchSet(patch)]


def command_for_tests(instance: dict) -> str:
    """The command that runs the row's tests in /testbed: the row's `test_cmd`, the repository's known
    command or pytest, then the test patch's files (Django: its modules)."""
    import shlex

    known = known_repository(instance["repo"])
    command = instance.get("test_cmd") or known.test_cmd or DEFAULT_TEST_CMD
    targets = target_test_files(instance["test_patch"])
    if known.test_modules and not instance.get("test_cmd"):
        targets = [_module(path) for path in targets]
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in known.env.items())
    return f"{env + ' ' if env else ''}{command} {shlex.join(targets)}".strip()


def _module(path: str) -> str:
    path = path.removesuffix(".py").removeprefix("tests/")
    return path.replace("/", ".")


def log_parser(repo: str) -> str:
    """The name of swebench's log parser for `repo` (its table), pytest's for a repository it does not know."""
    from swebench.harness.log_parsers import PARSER_REGISTRY
    from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY

    parser = MAP_REPO_TO_PARSER_PY.get(repo)
    if parser is None:
        return DEFAULT_LOG_PARSER
    names = [name for name, function in PARSER_REGISTRY.items() if function is parser]
    return names[0] if names else DEFAULT_LOG_PARSER


def network_problem(instance: dict) -> str:
    """Why the row's tests cannot run with the network off ("" when they can)."""
    known = known_repository(instance["repo"])
    version = str(instance.get("version") or "")
    if known.needs_network_before and version and _older(version, known.needs_network_before):
        return known.why
    return ""


def _older(version: str, than: str) -> bool:
    try:
        return _version_key(version) < _version_key(than)
    except ValueError:
        return False
