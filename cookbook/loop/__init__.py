"""The optimization run the notebook drives: its configuration (`config.py`), its files, history and
candidates (`run.py`), the rules between loops — budgets, early stopping, the selection policies
(`rules.py`) — and the comparison of optimizers on one run's data (`compare.py`)."""

from cookbook.loop.config import LoopConfig
from cookbook.loop.run import OptimizationRun, load_results, read_ruleset_file, run_paths

__all__ = ["LoopConfig", "OptimizationRun", "load_results", "read_ruleset_file", "run_paths"]
