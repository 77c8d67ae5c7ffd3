"""The cookbook's command line: `python -m cookbook <command>`.

    python -m cookbook run --run-name NAME [--config FILE] [--loops N --train-size N ...] [--resume]
    python -m cookbook demo [--stop-phoenix]          # the notebook on the bundled benchmark
    python -m cookbook compare --run-name NAME [--loops 3] [--modes rewrite,delta] [--selections latest,best,pareto]
    python -m cookbook validate-benchmark [--dataset bundled|FILE|HF name] [--repos-dir DIR] [--harness H]
    python -m cookbook stop-phoenix

`run` executes the notebook `optimize_cline_act.ipynb` headless (papermill) with the configuration as its
parameters: the CLI and the notebook are one loop, never two copies. The executed notebook is kept in
the run directory. With no provider variable set (OPENAI_API_KEY, ANTHROPIC_API_KEY, AGENT_BASE_URL …),
`run` and `demo` work in offline demo mode (scripted models).
"""

from __future__ import annotations

import argparse
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
    configuration of --run-name (whose --loops may be changed)."""
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
        return saved.model_copy(update={"loops": args.loops or saved.loops})
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
    execute_notebook(parameters, notebook)
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


def cmd_validate_benchmark(args: argparse.Namespace) -> int:
    from cookbook.data import load_instances
    from cookbook.harnesses import choose_harness, get_harness, validate_benchmark

    start = time.monotonic()
    instances = load_instances(args.dataset, split=args.split)
    name = choose_harness(args.harness, instances)  # None: the data's (docker when rows name images)
    harness = get_harness(name, workers=args.workers, repos_dir=args.repos_dir, progress=True)
    table = validate_benchmark(instances, harness)
    n = len(table)
    gold_ok = int((table["gold"] == "resolved").sum())
    empty_resolved = int((table["empty"] == "resolved").sum())
    print(
        f"{gold_ok}/{n} gold resolved, {empty_resolved}/{n} empty resolved "
        f"({time.monotonic() - start:.0f} s, {name} harness)"
    )
    broken = table[~table["ok"]]
    for row in broken.itertuples():
        print(f"  BROKEN {row.instance_id}: {row.why}")
    return 1 if len(broken) else 0


def cmd_stop_phoenix(args: argparse.Namespace) -> int:
    from phoenix_experiments import stop_phoenix

    print("stopped" if stop_phoenix() else "no local Phoenix was running")
    return 0


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per LoopConfig field, with its description, default and choices."""
    from cookbook.loop import LoopConfig

    for name, field in LoopConfig.model_fields.items():
        if name == "baseline_prompt":
            continue
        choices = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is typing.Literal else None
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
    main_parser = argparse.ArgumentParser(
        prog="python -m cookbook", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = main_parser.add_subparsers(dest="command", required=True)

    main_parser.add_argument("--debug", action="store_true", help="show tracebacks")
    run = commands.add_parser("run", help="the optimization loop: the notebook, headless")
    run.add_argument("--config", help="a JSON file of LoopConfig fields (flags override it)")
    run.add_argument("--resume", action="store_true", help="continue the run of --run-name with its configuration")
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

    validate = commands.add_parser("validate-benchmark", help="every gold patch resolves, every empty patch does not")
    validate.add_argument("--dataset", default="bundled", help="'bundled', a .json/.jsonl/.parquet file or a HF name")
    validate.add_argument("--split", default="test")
    validate.add_argument("--repos-dir", default=None, help="folder of mirrors named <owner>__<name>.git")
    validate.add_argument(
        "--harness", default=None, choices=["local", "docker", "modal"], help="default: follow the data"
    )
    validate.add_argument("--workers", type=int, default=2)
    validate.set_defaults(func=cmd_validate_benchmark)

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
