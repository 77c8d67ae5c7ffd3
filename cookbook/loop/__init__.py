"""The optimization run the notebook drives: its configuration (`config.py`), its files and history
(`run.py`), and the rules between loops — budgets, early stopping, selection (`rules.py`)."""

from cookbook.loop.config import LoopConfig
from cookbook.loop.run import OptimizationRun, load_results, read_ruleset_file, run_paths

__all__ = ["LoopConfig", "OptimizationRun", "load_results", "read_ruleset_file", "run_paths"]
