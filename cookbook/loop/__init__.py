"""The optimization run the notebook drives: its configuration (`config.py`), the three roles' endpoints
(`endpoints.py`: the real ones, or offline the demo's scripted server), its files, history and
candidates (`run.py`), what is decided between loops — whether to stop (`stopping.py`: budgets, early
stopping) and which candidate the next ruleset grows from (`selection.py`: the selection policies, the one
definition of best); these two were `rules.py` — and the comparison of optimizers on one run's data
(`compare.py`)."""

from cookbook.loop.config import LoopConfig
from cookbook.loop.run import OptimizationRun, load_results, read_ruleset_file, run_paths

__all__ = ["LoopConfig", "OptimizationRun", "load_results", "read_ruleset_file", "run_paths"]
