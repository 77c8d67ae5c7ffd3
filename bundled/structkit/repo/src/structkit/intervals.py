"""A set of half-open intervals ``[start, end)`` that stays normalised.

Overlapping *and touching* intervals are merged, so ``[0, 5)`` and ``[5, 9)``
become ``[0, 9)``; empty intervals (``start == end``) are ignored.

    >>> s = IntervalSet([(0, 5), (8, 10)])
    >>> s.add(4, 9)
    >>> list(s)
    [(0, 10)]
    >>> 10 in s
    False
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any, Iterable, Iterator, List, Optional, Tuple

__all__ = ["IntervalSet"]

Interval = Tuple[Any, Any]


def _check(start: Any, end: Any) -> None:
    if end < start:
        raise ValueError(f"interval end {end!r} is before its start {start!r}")


class IntervalSet:
    """A normalised set of disjoint, non-touching half-open intervals.

    Endpoints may be any mutually comparable values (ints, floats, dates, ...).
    Internally two parallel sorted lists hold the starts and the ends.
    """

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self._starts: List[Any] = []
        self._ends: List[Any] = []
        for start, end in intervals:
            self.add(start, end)

    # -- mutation ---------------------------------------------------------
    def add(self, start: Any, end: Any) -> None:
        """Add ``[start, end)``, merging it with every interval it overlaps or touches."""
        _check(start, end)
        if start == end:
            return
        # intervals lo..hi-1 overlap or touch [start, end):
        # their end is >= start and their start is <= end
        lo = bisect_left(self._ends, start)
        hi = bisect_right(self._starts, end)
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]

    def remove(self, start: Any, end: Any) -> None:
        """Remove ``[start, end)`` from the set, splitting intervals as needed."""
        _check(start, end)
        if start == end:
            return
        # intervals lo..hi-1 share at least one point with [start, end)
        lo = bisect_right(self._ends, start)
        hi = bisect_left(self._starts, end)
        if lo >= hi:
            return
        new_starts: List[Any] = []
        new_ends: List[Any] = []
        if self._starts[lo] < start:
            new_starts.append(self._starts[lo])
            new_ends.append(start)
        if self._ends[hi - 1] > end:
            new_starts.append(end)
            new_ends.append(self._ends[hi - 1])
        self._starts[lo:hi] = new_starts
        self._ends[lo:hi] = new_ends

    def clear(self) -> None:
        self._starts.clear()
        self._ends.clear()

    # -- queries ----------------------------------------------------------
    def find(self, point: Any) -> Optional[Interval]:
        """The interval containing *point*, or ``None``."""
        i = bisect_right(self._starts, point) - 1
        if i >= 0 and point < self._ends[i]:
            return (self._starts[i], self._ends[i])
        return None

    def overlaps(self, start: Any, end: Any) -> bool:
        """Whether ``[start, end)`` shares at least one point with the set."""
        _check(start, end)
        if start == end:
            return False
        return bisect_right(self._ends, start) < bisect_left(self._starts, end)

    def covers(self, start: Any, end: Any) -> bool:
        """Whether every point of ``[start, end)`` is in the set."""
        _check(start, end)
        if start == end:
            return True
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end

    def gaps(self, start: Any, end: Any) -> "IntervalSet":
        """The parts of ``[start, end)`` that are *not* in the set."""
        result = IntervalSet([(start, end)])
        for s, e in self:
            result.remove(s, e)
        return result

    def total_length(self) -> Any:
        """Sum of the lengths of all intervals (``0`` when empty)."""
        total: Any = None
        for s, e in self:
            total = (e - s) if total is None else total + (e - s)
        return 0 if total is None else total

    # -- set algebra ------------------------------------------------------
    def union(self, other: Iterable[Interval]) -> "IntervalSet":
        result = self.copy()
        for s, e in other:
            result.add(s, e)
        return result

    def difference(self, other: Iterable[Interval]) -> "IntervalSet":
        result = self.copy()
        for s, e in other:
            result.remove(s, e)
        return result

    def intersection(self, other: Iterable[Interval]) -> "IntervalSet":
        result = IntervalSet()
        for s, e in other:
            lo = bisect_right(self._ends, s)
            hi = bisect_left(self._starts, e)
            for i in range(lo, hi):
                result.add(max(s, self._starts[i]), min(e, self._ends[i]))
        return result

    __or__ = union
    __sub__ = difference
    __and__ = intersection

    # -- container protocol -----------------------------------------------
    def __contains__(self, point: object) -> bool:
        return self.find(point) is not None

    def __iter__(self) -> Iterator[Interval]:
        return iter(list(zip(self._starts, self._ends)))

    def __len__(self) -> int:
        """Number of (disjoint) intervals."""
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return self._starts == other._starts and self._ends == other._ends

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> "IntervalSet":
        new = IntervalSet()
        new._starts = list(self._starts)
        new._ends = list(self._ends)
        return new

    def __copy__(self) -> "IntervalSet":
        return self.copy()

    def __repr__(self) -> str:
        return f"IntervalSet({list(self)!r})"
