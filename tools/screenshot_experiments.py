"""Screenshots of Phoenix after `make demo`, as a user sees it in a browser (headless Chromium):

- `experiments.png`: the experiments page of the run's test dataset — one experiment per loop, with its
  description (the loop, the split, the ruleset's Prompt version), the annotation, latency and cost charts,
  and the table's tokens, cost, error rate and metadata columns;
- `prompt_versions.png`: the versions page of the run's ruleset Prompt — one version per loop, each with
  its tags and scores, the newest one's text (base prompt and ruleset) open.

It uses the Phoenix the demo left running (or starts the local one again on the same data) and the demo's
run (the one `make demo` makes: the notebook's own settings; `--run-name` for another), and saves the pictures
in `COOKBOOK_DIR/screenshots/`. `make screenshot` runs the demo first and installs Debian's `chromium` if
it is missing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cookbook.loop.config import notebook_run_name
from cookbook.paths import cookbook_dir
from cookbook.phoenix import rest
from cookbook.phoenix.prompts import list_versions, prompt_id, prompt_name, versions_url
from phoenix_experiments import ensure_phoenix, phoenix_client

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # runs as root in containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=25000",  # let the page's queries finish and the charts draw
    "--force-prefers-reduced-motion",  # charts drawn whole, not caught mid-animation
]
# the experiments table is wide: a 3600-pixel page drawn at 0.75 shows every column, as 2700 pixels
VIEWS = {
    "experiments.png": ["--window-size=3600,1000", "--force-device-scale-factor=0.75"],
    "prompt_versions.png": ["--window-size=1600,1400", "--force-device-scale-factor=1"],
}


def screenshot(browser: str, page: str, out: Path, view: list[str]) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, *CHROMIUM_FLAGS, *view, f"--user-data-dir={profile}", f"--screenshot={out}", page],
            check=True,
            capture_output=True,
            timeout=180,
        )
    print(f"{page}\n  -> {out}")


def pages(url: str, run_name: str, split: str) -> dict[str, str]:
    """{picture name: page} for the run; exits with what to do when the demo has not logged it yet."""
    client = phoenix_client(url)
    try:
        dataset = client.datasets.get_dataset(dataset=f"{run_name}-{split}")
    except Exception:
        sys.exit(f"Phoenix at {url} has no dataset {run_name}-{split}: run `make demo` first.")
    found = {"experiments.png": client.experiments.get_dataset_experiments_url(dataset.id)}
    name = prompt_name(run_name)
    with rest(url) as http:
        pid, versions = prompt_id(http, name), list_versions(http, name)
    if not pid:
        sys.exit(f"Phoenix at {url} has no Prompt {name}: the run logged no ruleset version (log_ruleset_version).")
    found["prompt_versions.png"] = versions_url(url, pid, versions[0]["id"])  # the newest version, open
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run-name", default=None, help="default: the run of the notebook's own settings (make demo's)"
    )
    parser.add_argument("--split", default="test", help="whose dataset's experiments page (train or test)")
    parser.add_argument("--out-dir", type=Path, default=cookbook_dir() / "screenshots")
    args = parser.parse_args(argv)
    args.run_name = args.run_name or notebook_run_name()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        sys.exit("chromium is not installed: apt-get install chromium (make screenshot does it)")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    url = ensure_phoenix()  # the demo's, still running, or the local one again on the same data
    for picture, page in pages(url, args.run_name, args.split).items():
        screenshot(browser, page, args.out_dir / picture, VIEWS[picture])


if __name__ == "__main__":
    main()
