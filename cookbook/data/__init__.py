"""Data: SWE-bench-format datasets (`datasets.py`), splits (`splits.py`), the bundled offline benchmark
(`bundled.py`) and the repositories' local mirrors (`repositories.py`)."""

from cookbook.data.datasets import REQUIRED_FIELDS, DatasetError, load_instances, validate_instances
from cookbook.data.splits import SPLIT_STRATEGIES, split_instances

__all__ = [
    "REQUIRED_FIELDS",
    "SPLIT_STRATEGIES",
    "DatasetError",
    "load_instances",
    "split_instances",
    "validate_instances",
]
