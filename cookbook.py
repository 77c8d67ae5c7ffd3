"""The cookbook's command line.

python cookbook.py validate-benchmark [--dataset bundled|FILE|HF name] [--repos-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import time

from harness import get_harness, validate_benchmark
from swebench_data import load_instances


def cmd_validate_benchmark(args: argparse.Namespace) -> int:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cookbook", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate-benchmark", help="every gold patch resolves, every empty patch does not")
    validate.add_argument("--dataset", default="bundled", help="'bundled', a .json/.jsonl/.parquet file or a HF name")
    validate.add_argument("--split", default="test")
    validate.add_argument("--repos-dir", default=None, help="folder of mirrors named <owner>__<name>.git")
    validate.add_argument("--harness", default="local", choices=["local", "docker", "modal"])
    validate.add_argument("--workers", type=int, default=2)
    validate.set_defaults(func=cmd_validate_benchmark)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
