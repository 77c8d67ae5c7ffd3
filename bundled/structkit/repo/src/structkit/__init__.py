"""structkit: small, dependency-free data structures."""

from .bidict import BiDict, ValueDuplicationError
from .intervals import IntervalSet
from .lru import CacheStats, LRUCache
from .sortedlist import SortedList

__version__ = "0.4"

__all__ = [
    "BiDict",
    "CacheStats",
    "IntervalSet",
    "LRUCache",
    "SortedList",
    "ValueDuplicationError",
    "__version__",
]
