"""The notebook, run headless: the one copy of the loop that the CLI (`run`, `demo`) and the comparison of
optimizers (`cookbook.loop.compare`) execute with papermill, each with its own parameters.

It imports nothing of the loop (the loop imports it): the run its own settings make is named by
`cookbook.loop.config.notebook_run_name`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from cookbook.paths import PROJECT_DIR

NOTEBOOK = PROJECT_DIR / "optimize_cline_act.ipynb"


def execute_notebook(parameters: dict, output: Path, log_output: bool = True) -> None:
    """Run the notebook headless with these parameters into `output`, its cells' output shown as it comes
    (`log_output`)."""
    import papermill

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("traitlets", "asyncio", "httpx", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    output.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(output),
        parameters=parameters,
        cwd=str(PROJECT_DIR),
        log_output=log_output,
        progress_bar=False,
        kernel_name="python3",
    )


def default_parameters() -> dict:
    """The settings of the notebook's `parameters` cell as committed (its upper-case names)."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    namespace: dict = {}
    exec("".join(cell["source"]), namespace)  # the cell is plain assignments of settings
    return {name: value for name, value in namespace.items() if name.isupper()}
