"""The cookbook's command line: `python -m cookbook <command>`.

    python -m cookbook run --run-name NAME [--config FILE] [--loops N --train-size N ...] [--resume]
    python -m cookbook demo [--stop-phoenix]          # the notebook on the bundled benchmark
    python -m cookbook compare --run-name NAME [--loops 3] [--modes rewrite,delta] [--selections latest,best,pareto]
    python -m cookbook export --run-name NAME [--loop best|N] --format clinerules|clinerules-file|agents|claude --to DIR
    python -m cookbook mine --repo PATH --since YYYY-MM-DD --until YYYY-MM-DD --out tasks.jsonl [--max N]
    python -m cookbook validate-benchmark [--dataset bundled|FILE|HF name|mine:PATH] [--repos-dir DIR] [--harness H]
                                          [--instances ID,…] [--repos OWNER/NAME,…]
    python -m cookbook prune-images [--older-than DAYS] [--all]
    python -m cookbook stop-phoenix

`run` executes the notebook `optimize_cline_act.ipynb` headless (papermill) with the configuration as its
parameters: the CLI and the notebook are one loop, never two copies. The executed notebook is kept in
the run directory. With no provider variable set (OPENAI_API_KEY, ANTHROPIC_API_KEY, AGENT_BASE_URL …),
`run` and `demo` work in offline demo mode (scripted models).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import traceback
import typing
from pathlib import Path

from cookbook.notebook import execute_notebook
from cookbook.paths import cookbook_dir
from cookbook.seams import ConfigurationError, CookbookError

if typing.TYPE_CHECKING:
    from cookbook.loop import LoopConfig

# The notebook's errors a user can fix (their message says how): printed without a hint to --debug.
COOKBOOK_ERRORS = {
    "ConfigurationError",
    "PreflightError",
    "InfrastructureFailure",
    "PhoenixUnavailable",
    "DatasetError",
    "EndpointError",
    "HarnessError",
    "DockerUnavailable",
    "ModalUnavailable",
    "WorkspaceError",
    "AgentNotInstalled",
}


def run_config(args: argparse.Namespace) -> LoopConfig:
    """The run's configuration from --config and the flags (flags win), checked; with --resume, the saved
    configuration of --run-name with the flags given (its operational settings — loops, workers, phoenix,
    limits, budgets — may change; a change of what defines its results is refused by OptimizationRun)."""
    from cookbook.llm.endpoints import offline
    from cookbook.loop import LoopConfig, run_paths
    from cookbook.loop.run import saved_config

    values = read_config_file(args.config) if args.config else {}
    values.update({k: v for k, v in vars(args).items() if k in LoopConfig.model_fields and v is not None})
    if args.resume:
        if not args.run_name:
            raise ConfigurationError("--resume continues a run: name it with --run-name.")
        saved = saved_config(args.run_name)
        if saved is None:
            missing = run_paths(args.run_name)[0] / "config.json"
            raise ConfigurationError(f"--resume: there is no run {args.run_name!r} ({missing} is missing).")
        values = saved.model_dump() | values
    return LoopConfig.parse(values).named(offline())


def read_config_file(path: str) -> dict:
    try:
        values = json.loads(Path(path).read_text())
    except OSError as e:
        raise ConfigurationError(f"--config: cannot read {path} ({e.strerror}).") from None
    except ValueError as e:
        raise ConfigurationError(f"--config: {path} is not valid JSON ({e}).") from None
    if not isinstance(values, dict):
        raise ConfigurationError(f"--config: {path} must hold a JSON object of settings.")
    return values


def cmd_run(args: argparse.Namespace) -> int:
    from cookbook.loop import OptimizationRun

    config = run_config(args)
    run = OptimizationRun(config)  # every check that needs no network, before anything is written
    parameters = {**config.to_parameters(), "STOP_PHOENIX_AT_END": False}
    notebook = run.dir / "notebook.ipynb"
    try:
        execute_notebook(parameters, notebook)
    except BaseException:
        if not (run.dir / "config.json").exists():  # stopped before the run began: leave nothing of it behind
            notebook.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                run.dir.rmdir()
        raise
    print(f"rulesets: {run.rulesets_dir}\nresults:  {run.dir}\nnotebook: {notebook}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cookbook.llm.endpoints import offline

    if offline():
        print(
            "Offline demo mode: no provider variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, AGENT_BASE_URL …) is set, "
            "so the models are scripted (Cline, the tests and Phoenix are real). Set OPENAI_API_KEY to use real "
            "models.\n",
            flush=True,
        )
    output = cookbook_dir() / "demo" / "optimize_cline_act.ipynb"
    parameters = {"STOP_PHOENIX_AT_END": args.stop_phoenix, **({"RUN_NAME": args.run_name} if args.run_name else {})}
    parameters["TRANSFER_AGENTS"] = {"claude-code": None, "mini-swe-agent": None}  # the rules with other agents
    execute_notebook(parameters, output)
    print(f"\nexecuted notebook: {output}")
    if not args.stop_phoenix:
        print("Phoenix keeps running for you to browse; stop it with: make stop-phoenix")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from cookbook.loop.compare import compare_optimizers, comparison_cost

    modes, selections = _names(args.modes, ("rewrite", "delta")), _names(args.selections, ("latest", "best", "pareto"))
    if args.estimate:
        print(comparison_cost(args.run_name, args.loops, modes, selections))
        return 0
    table = compare_optimizers(args.run_name, args.loops, modes, selections)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(table.to_string(index=False))
    return 0


def _names(value: str, known: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ConfigurationError(f"compare: {', '.join(unknown) or 'nothing'} not among {', '.join(known)}.")
    return names


def cmd_export(args: argparse.Namespace) -> int:
    from cookbook.export import export_ruleset
    from cookbook.loop.run import saved_config

    chosen, files = export_ruleset(args.run_name, args.format, args.to, args.loop)
    print(chosen.header())
    for path, what in files.items():
        print(f"  {what}: {path}")
    config = saved_config(args.run_name)
    if args.no_phoenix or config is None or not config.phoenix:
        return 0
    from phoenix_experiments import PhoenixUnavailable, tag_exported_ruleset

    try:
        tagged = tag_exported_ruleset(None, None, args.run_name, chosen.loop, f"{args.format} in {args.to}")
    except PhoenixUnavailable as e:  # the files are the export; Phoenix only shows it
        print(f"Phoenix: not tagged ({e})", file=sys.stderr)
        return 0
    print(f"Phoenix: {tagged['url']} (tagged exported)" if tagged else "Phoenix: the run has no version of that loop")
    return 0


def cmd_mine(args: argparse.Namespace) -> int:
    from cookbook.mining.miner import mine, summary_path

    since, until = _date(args.since, "--since"), _date(args.until, "--until")
    if until < since:
        raise ConfigurationError(f"mine: --until {until} is before --since {since}.")
    summary = mine(args.repo, since, until, args.out, args.max, args.repos_dir, args.workers, timeout=args.timeout)
    print(summary.text())
    print(f"every candidate's verdict: {summary_path(args.out)}")
    if summary.kept:
        repos = f" --repos-dir {args.repos_dir}" if args.repos_dir else ""
        print(f"next: python -m cookbook validate-benchmark --dataset {args.out}{repos} --harness docker")
        print(f"      python -m cookbook run --dataset {args.out}{repos} --train-size N --test-size M")
    return 0 if summary.kept else 1


def _date(value: str, flag: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"mine: {flag} {value!r} is not a date (YYYY-MM-DD).") from None


def cmd_validate_benchmark(args: argparse.Namespace) -> int:
    from cookbook.data import load_instances
    from cookbook.harnesses import choose_harness, get_harness, validate_benchmark
    from cookbook.mining import dataset_file

    start = time.monotonic()
    instances = load_instances(dataset_file(args.dataset), split=args.split)
    instances = filter_instances(instances, args.instances, args.repos, args.dataset)
    name = choose_harness(args.harness, instances)  # None: the data's (docker when rows name images)
    harness = get_harness(name, workers=args.workers, repos_dir=args.repos_dir, progress=True)
    table = validate_benchmark(instances, harness)
    n = len(table)
    gold_ok = int((table["gold"] == "resolved").sum())
    empty_resolved = int((table["empty"] == "resolved").sum())
    environment = int((table["error_kind"] == "environment").sum())
    print(
        f"{gold_ok}/{n} gold resolved, {empty_resolved}/{n} empty resolved, {environment} environment error"
        f"{'' if environment == 1 else 's'} ({time.monotonic() - start:.0f} s, {name} harness)"
    )
    broken = table[~table["ok"]]
    for row in broken.itertuples():
        label = row.error_kind.upper() if row.error_kind in ("environment", "repository") else "BROKEN"
        print(f"  {label} {row.instance_id}: {row.why}")
    if args.out:
        keep = instances[instances["instance_id"].isin(set(table.loc[table["ok"], "instance_id"]))]
        Path(args.out).write_text(keep.to_json(orient="records", lines=True))
        print(f"{len(keep)} instance(s) that keep the rule written to {args.out}")
    return 1 if len(broken) else 0


def filter_instances(instances, ids: str | None, repos: str | None, dataset: str):
    """The rows named by --instances (ids, or shell patterns such as 'pallets__flask-*') and --repos
    (owner/name); an id or repository that matches nothing is an error."""
    import fnmatch

    from cookbook.data import DatasetError

    for flag, values, column in (("--instances", ids, "instance_id"), ("--repos", repos, "repo")):
        if not values:
            continue
        wanted = [v.strip() for v in values.split(",") if v.strip()]
        unmatched = [w for w in wanted if not any(fnmatch.fnmatchcase(v, w) for v in instances[column])]
        if unmatched:
            raise DatasetError(f"{flag}: {', '.join(unmatched)} matches no row of {dataset}.")
        keep = instances[column].apply(lambda v, wanted=wanted: any(fnmatch.fnmatchcase(v, w) for w in wanted))
        instances = instances[keep].reset_index(drop=True)
    return instances


def cmd_prune_images(args: argparse.Namespace) -> int:
    from cookbook.docker_engine import check_engine
    from cookbook.images.prune import prune_images

    check_engine("prune-images", "")
    pruned = prune_images(args.older_than, args.all)
    print(f"removed {len(pruned.removed)} image(s), {pruned.freed_bytes / 1e9:.1f} GB")
    if pruned.kept_in_use:
        print(f"kept {len(pruned.kept_in_use)} used by a container: {', '.join(pruned.kept_in_use[:5])}")
    return 0


def cmd_stop_phoenix(args: argparse.Namespace) -> int:
    from phoenix_experiments import stop_phoenix

    print("stopped" if stop_phoenix() else "no local Phoenix was running")
    return 0


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per LoopConfig field of the run (not the notebook's last sections': `compare`, `export`), with its
    description, default and choices."""
    from cookbook.loop import LoopConfig

    for name, field in LoopConfig.model_fields.items():
        if name == "baseline_prompt" or field.exclude:
            continue
        literals = [
            a for a in (field.annotation, *typing.get_args(field.annotation)) if typing.get_origin(a) is typing.Literal
        ]
        choices = typing.get_args(literals[0]) if literals else None  # a Literal, or a Literal or None
        numeric = {t for t in (int, float) if t in (field.annotation, *typing.get_args(field.annotation))}
        if field.annotation is bool:
            kind = _boolean
        elif numeric:
            kind = float if float in numeric else int
        else:
            kind = str
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            type=kind,
            choices=choices,
            default=None,
            help=f"{field.description or ''} (default {field.default})",
        )


def _boolean(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def parser() -> argparse.ArgumentParser:
    from cookbook.harnesses import HARNESSES

    main_parser = argparse.ArgumentParser(
        prog="python -m cookbook", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = main_parser.add_subparsers(dest="command", required=True)

    main_parser.add_argument("--debug", action="store_true", help="show tracebacks")
    run = commands.add_parser("run", help="the optimization loop: the notebook, headless")
    run.add_argument("--config", help="a JSON file of LoopConfig fields (flags override it)")
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the run of --run-name with its configuration and the flags given (operational ones may change)",
    )
    _add_config_flags(run)
    run.set_defaults(func=cmd_run)

    demo = commands.add_parser("demo", help="run optimize_cline_act.ipynb headless (offline demo without a key)")
    demo.add_argument("--stop-phoenix", action="store_true", help="stop Phoenix at the end (tests)")
    demo.add_argument("--run-name", default=None)
    demo.set_defaults(func=cmd_demo)

    compare = commands.add_parser(
        "compare", help="rewrite against delta and the selection policies, from one run's loop-0 agent runs"
    )
    compare.add_argument("--run-name", required=True, help="a run whose loop 0 is finished")
    compare.add_argument("--loops", type=int, default=3, help="loops per variant (default 3; at least 2)")
    compare.add_argument("--modes", default="rewrite,delta", help="optimizer modes (default rewrite,delta)")
    compare.add_argument("--selections", default="latest,best,pareto", help="policies (default all three)")
    compare.add_argument("--estimate", action="store_true", help="print the cost bound only")
    compare.set_defaults(func=cmd_compare)

    from cookbook.export import EXPORT_FORMATS

    export = commands.add_parser("export", help="a run's ruleset where an agent reads it (.clinerules, AGENTS.md …)")
    export.add_argument("--run-name", required=True, help="a run with a finished loop")
    export.add_argument("--loop", default="best", help="'best' (the selection policy's, default) or a loop number")
    export.add_argument("--format", required=True, choices=list(EXPORT_FORMATS), help="where the agent reads it")
    export.add_argument("--to", required=True, help="the folder to write into (the repository's root)")
    export.add_argument("--no-phoenix", action="store_true", help="do not tag the Prompt version `exported`")
    export.set_defaults(func=cmd_export)

    mine = commands.add_parser("mine", help="SWE-bench tasks from a repository's history, validated in Docker")
    mine.add_argument("--repo", required=True, help="a working tree, a bare repository or a mirror")
    mine.add_argument("--since", required=True, help="the first day of the window (YYYY-MM-DD)")
    mine.add_argument("--until", required=True, help="the last day of the window (YYYY-MM-DD, included)")
    mine.add_argument("--out", required=True, help="the tasks file to write (JSONL)")
    mine.add_argument("--max", type=int, default=None, help="at most this many tasks (the newest)")
    mine.add_argument(
        "--repos-dir", default=None, help="where to register the repository as <owner>__<name>.git (default: the cache)"
    )
    mine.add_argument("--workers", type=int, default=2, help="test runs at once")
    mine.add_argument("--timeout", type=float, default=600, help="seconds a candidate's tests may run (default 600)")
    mine.set_defaults(func=cmd_mine)

    validate = commands.add_parser("validate-benchmark", help="every gold patch resolves, every empty patch does not")
    validate.add_argument(
        "--dataset", default="bundled", help="'bundled', a .json/.jsonl/.parquet file, a HF name or mine:PATH"
    )
    validate.add_argument("--split", default="test")
    validate.add_argument("--repos-dir", default=None, help="folder of mirrors named <owner>__<name>.git")
    validate.add_argument("--harness", default=None, choices=HARNESSES, help="default: follow the data")
    validate.add_argument("--instances", default=None, help="only these instance ids (comma-separated; * patterns)")
    validate.add_argument("--repos", default=None, help="only these repositories (owner/name, comma-separated)")
    validate.add_argument("--out", default=None, help="write the rows that keep the rule to this .jsonl")
    validate.add_argument("--workers", type=int, default=2)
    validate.set_defaults(func=cmd_validate_benchmark)

    prune = commands.add_parser("prune-images", help="remove the project's old environment and instance images")
    prune.add_argument("--older-than", type=float, default=30, help="days (default 30)")
    prune.add_argument("--all", action="store_true", help="every image the project made, bases included")
    prune.set_defaults(func=cmd_prune_images)

    stop = commands.add_parser("stop-phoenix", help="stop the local Phoenix")
    stop.set_defaults(func=cmd_stop_phoenix)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; a problem the user can fix is one or two lines on stderr and a non-zero exit
    (the traceback only with --debug)."""
    from papermill.exceptions import PapermillExecutionError

    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except CookbookError as e:
        if args.debug:
            traceback.print_exc()
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except PapermillExecutionError as e:  # the notebook stopped: its error, without the kernel's traceback
        if args.debug:
            print("".join(e.traceback), file=sys.stderr)
        print(f"{e.ename}: {e.evalue}", file=sys.stderr)
        if not args.debug and e.ename not in COOKBOOK_ERRORS:
            print("(python -m cookbook --debug ... shows the traceback)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: what finished is kept; the same command continues the run", file=sys.stderr)
        return 130
