"""A headless Chromium screenshot of a Phoenix dataset's experiments page after two logged loops.

Starts its own Phoenix (in `COOKBOOK_DIR/phoenix-screenshot`), uploads the bundled benchmark as a dataset,
logs two loops of results as experiments (illustrative results: loop 1 solves more than loop 0), and saves
`COOKBOOK_DIR/screenshots/experiments.png`. Needs Debian's `chromium` (`make screenshot` installs it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta

import pandas as pd

from cookbook.data import load_instances
from cookbook.paths import cookbook_dir
from phoenix_experiments import create_dataset, ensure_phoenix, log_experiment_to_phoenix, phoenix_client, stop_phoenix

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1500,900",
    "--virtual-time-budget=20000",
]


def loop_results(instances: pd.DataFrame, solved_every: int) -> pd.DataFrame:
    start = datetime.now(UTC)
    rows = []
    for i, inst in enumerate(instances.to_dict("records")):
        passed = i % solved_every == 0
        rows.append(
            {
                "instance_id": inst["instance_id"],
                "attempt": 0,
                "cline_patch": inst["patch"] if passed else "",
                "pass_or_fail": "pass" if passed else "fail",
                "status": "resolved" if passed else "unresolved",
                "failed_tests": [] if passed else inst["FAIL_TO_PASS"],
                "started_at": (start + timedelta(seconds=10 * i)).isoformat(),
                "finished_at": (start + timedelta(seconds=10 * i + 8)).isoformat(),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        sys.exit("chromium is not installed: apt-get install chromium (make screenshot does it)")
    working_dir = cookbook_dir() / "phoenix-screenshot"
    out = cookbook_dir() / "screenshots" / "experiments.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    url = ensure_phoenix(working_dir)
    try:
        instances = load_instances("bundled")
        dataset = create_dataset(phoenix_client(url), "bundled-train", instances)
        for loop, every in ((0, 3), (1, 2)):
            df = loop_results(instances, every)
            log_experiment_to_phoenix(
                url, None, dataset, f"loop-{loop}-train", df, {"loop": loop, "split": "train", "agent": "cline"}
            )
        page = phoenix_client(url).experiments.get_dataset_experiments_url(dataset.id)
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}", page],
                check=True,
                capture_output=True,
                timeout=120,
            )
        print(f"screenshot of {page} saved to {out}")
    finally:
        stop_phoenix(working_dir)


if __name__ == "__main__":
    main()
