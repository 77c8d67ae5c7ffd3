"""The cookbook's command line.

    python cookbook.py run --run-name NAME [--config FILE] [--loops N --train-size N ...] [--resume]
    python cookbook.py demo [--stop-phoenix]          # the notebook, headless, on the bundled benchmark
    python cookbook.py validate-benchmark [--dataset bundled|FILE|HF name] [--repos-dir DIR]
    python cookbook.py stop-phoenix

Without OPENAI_API_KEY and OPENAI_BASE_URL, `run` and `demo` work in offline demo mode (scripted models).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from config import PROJECT_DIR, cookbook_dir


def cmd_validate_benchmark(args: argparse.Namespace) -> int:
    from harness import get_harness, validate_benchmark
    from swebench_data import load_instances

    start = time.monotonic()
    instances = load_instances(args.dataset, split=args.split)
    harness = get_harness(args.harness, workers=args.workers, repos_dir=args.repos_dir, progress=True)
    table = validate_benchmark(instances, harness)
    n = len(table)
    gold_ok = int((table["gold"] == "pass").sum())
    empty_resolved = int((table["empty"] == "pass").sum())
    print(
        f"{gold_ok}/{n} gold resolved, {empty_resolved}/{n} empty resolved "
        f"({time.monotonic() - start:.0f} s, {args.harness} harness)"
    )
    broken = table[~table["ok"]]
    for row in broken.itertuples():
        print(f"  BROKEN {row.instance_id}: {row.why}")
    return 1 if len(broken) else 0


def cmd_run(args: argparse.Namespace) -> int:
    import pandas as pd

    from loop import LoopConfig, run_loop, run_paths
    from offline_demo import resolve_endpoint
    from swebench_data import load_instances

    values = json.loads(Path(args.config).read_text()) if args.config else {}
    values.update({k: v for k, v in vars(args).items() if k in LoopConfig.model_fields and v is not None})
    config = LoopConfig(**values)
    run_dir, rulesets_dir = run_paths(config.run_name)
    if args.resume and (run_dir / "config.json").exists():  # the run's own configuration; --loops may extend it
        saved = LoopConfig.model_validate_json((run_dir / "config.json").read_text())
        config = saved.model_copy(update={"loops": config.loops if args.loops is not None else saved.loops})
    base_url, api_key, server = resolve_endpoint(
        load_instances(config.dataset, config.dataset_split).to_dict("records")
    )
    try:
        table = run_loop(config, base_url, api_key, resume=args.resume)
    except ValueError as e:  # a run of that name with another configuration, bad sizes, a bad dataset
        print(f"{e} (with the CLI: --resume)", file=sys.stderr)
        return 2
    finally:
        if server:
            server.stop()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(
            table
            if table.empty
            else table[["loop", "train_accuracy", "test_accuracy", "agent_llm_calls", "agent_tokens", "resumed"]]
        )
    print(f"rulesets: {rulesets_dir}\nresults:  {run_dir}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import logging
    import os

    import papermill

    if not (os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")):
        print(
            "Offline demo mode: no OPENAI_API_KEY or OPENAI_BASE_URL, so the models are scripted "
            "(Cline, the tests and Phoenix are real). Set OPENAI_API_KEY to use real models.\n",
            flush=True,
        )
    # papermill logs each cell's output as it comes: show it, without the kernel's own chatter
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("traitlets", "asyncio", "httpx", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    out_dir = cookbook_dir() / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / "optimize_cline_act.ipynb"
    parameters = {"STOP_PHOENIX_AT_END": args.stop_phoenix}
    if args.run_name:
        parameters["RUN_NAME"] = args.run_name
    papermill.execute_notebook(
        str(PROJECT_DIR / "optimize_cline_act.ipynb"),
        str(output),
        parameters=parameters,
        cwd=str(PROJECT_DIR),
        log_output=True,
        progress_bar=False,
        kernel_name="python3",
    )
    print(f"\nexecuted notebook: {output}")
    if not args.stop_phoenix:
        print("Phoenix keeps running for you to browse; stop it with: make stop-phoenix")
    return 0


def cmd_stop_phoenix(args: argparse.Namespace) -> int:
    from phoenix_experiments import stop_phoenix

    print("stopped" if stop_phoenix() else "no local Phoenix was running")
    return 0


def main(argv: list[str] | None = None) -> int:
    from loop import LoopConfig

    parser = argparse.ArgumentParser(
        prog="cookbook", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the optimization loop, headless")
    run.add_argument("--config", help="a JSON file of LoopConfig fields (flags override it)")
    run.add_argument("--resume", action="store_true", help="continue the run directory of --run-name")
    for name, field in LoopConfig.model_fields.items():
        if name == "baseline_prompt":
            continue
        kind = (
            field.annotation
            if field.annotation in (int, float)
            else ((lambda v: v.lower() in ("1", "true", "yes")) if field.annotation is bool else str)
        )
        run.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            type=kind,
            default=None,
            help=f"{field.description or ''} (default {field.default})",
        )
    run.set_defaults(func=cmd_run)

    demo = commands.add_parser("demo", help="run optimize_cline_act.ipynb headless (offline demo without a key)")
    demo.add_argument("--stop-phoenix", action="store_true", help="stop Phoenix at the end (tests)")
    demo.add_argument("--run-name", default=None)
    demo.set_defaults(func=cmd_demo)

    validate = commands.add_parser("validate-benchmark", help="every gold patch resolves, every empty patch does not")
    validate.add_argument("--dataset", default="bundled", help="'bundled', a .json/.jsonl/.parquet file or a HF name")
    validate.add_argument("--split", default="test")
    validate.add_argument("--repos-dir", default=None, help="folder of mirrors named <owner>__<name>.git")
    validate.add_argument("--harness", default="local", choices=["local", "docker", "modal"])
    validate.add_argument("--workers", type=int, default=2)
    validate.set_defaults(func=cmd_validate_benchmark)

    stop = commands.add_parser("stop-phoenix", help="stop the local Phoenix")
    stop.set_defaults(func=cmd_stop_phoenix)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
