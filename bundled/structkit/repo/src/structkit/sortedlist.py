"""A list that keeps its items sorted, optionally by a key function.

Lookups and range queries use :mod:`bisect`; insertion and removal are
``O(n)`` list operations, which is fast in practice for up to a few hundred
thousand items.

    >>> sl = SortedList([5, 1, 3])
    >>> sl.add(2)
    >>> list(sl)
    [1, 2, 3, 5]
    >>> list(sl.irange(2, 4))
    [2, 3]
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple

__all__ = ["SortedList"]


class SortedList:
    """A sequence kept in ascending order of ``key(item)`` (or of the items themselves).

    Items with equal keys keep their insertion order.  Membership, ``index``,
    ``count`` and ``remove`` look items up by key and then compare the items
    themselves with ``==``, so with a key function two different items may
    share a key and are still told apart.
    """

    def __init__(self, iterable: Iterable[Any] = (), key: Optional[Callable[[Any], Any]] = None) -> None:
        self._key = key
        self._items: List[Any] = sorted(iterable, key=key)
        self._keys: List[Any] = [key(x) for x in self._items] if key is not None else list(self._items)

    @property
    def key(self) -> Optional[Callable[[Any], Any]]:
        """The key function, or ``None``."""
        return self._key

    def _keyof(self, value: Any) -> Any:
        return value if self._key is None else self._key(value)

    def _find(self, value: Any) -> int:
        """Index of the first item equal to *value*, or -1."""
        k = self._keyof(value)
        lo = bisect_left(self._keys, k)
        hi = bisect_right(self._keys, k, lo)
        for i in range(lo, hi):
            if self._items[i] == value:
                return i
        return -1

    # -- mutation ---------------------------------------------------------
    def add(self, value: Any) -> None:
        """Insert *value* after any items with an equal key."""
        k = self._keyof(value)
        i = bisect_right(self._keys, k)
        self._keys.insert(i, k)
        self._items.insert(i, value)

    def update(self, iterable: Iterable[Any]) -> None:
        """Add every item of *iterable*."""
        values = list(iterable)
        if len(values) > len(self._items):
            # cheaper to re-sort everything once (sorted() is stable)
            self._items = sorted(self._items + values, key=self._key)
            self._keys = [self._keyof(x) for x in self._items]
        else:
            for value in values:
                self.add(value)

    def remove(self, value: Any) -> None:
        """Remove the first item equal to *value*; ``ValueError`` if absent."""
        i = self._find(value)
        if i < 0:
            raise ValueError(f"{value!r} not in SortedList")
        del self._items[i]
        del self._keys[i]

    def discard(self, value: Any) -> bool:
        """Remove *value* if present; return whether something was removed."""
        i = self._find(value)
        if i < 0:
            return False
        del self._items[i]
        del self._keys[i]
        return True

    def pop(self, index: int = -1) -> Any:
        """Remove and return the item at *index* (the largest by default)."""
        if not self._items:
            raise IndexError("pop from empty SortedList")
        del self._keys[index]
        return self._items.pop(index)

    def clear(self) -> None:
        self._items.clear()
        self._keys.clear()

    # -- queries ----------------------------------------------------------
    def index(self, value: Any) -> int:
        """Position of the first item equal to *value*; ``ValueError`` if absent."""
        i = self._find(value)
        if i < 0:
            raise ValueError(f"{value!r} not in SortedList")
        return i

    def count(self, value: Any) -> int:
        """Number of items equal to *value*."""
        k = self._keyof(value)
        lo = bisect_left(self._keys, k)
        hi = bisect_right(self._keys, k, lo)
        return sum(1 for i in range(lo, hi) if self._items[i] == value)

    def bisect_left(self, value: Any) -> int:
        """Insertion point for *value* before any items with an equal key."""
        return bisect_left(self._keys, self._keyof(value))

    def bisect_right(self, value: Any) -> int:
        """Insertion point for *value* after any items with an equal key."""
        return bisect_right(self._keys, self._keyof(value))

    def irange(
        self,
        minimum: Any = None,
        maximum: Any = None,
        inclusive: Tuple[bool, bool] = (True, True),
        reverse: bool = False,
    ) -> Iterator[Any]:
        """Iterate over items whose key lies between *minimum* and *maximum*.

        The bounds are *key* values (for a list without a key function, plain
        values); ``None`` means unbounded on that side.  *inclusive* says
        whether each bound itself is included.
        """
        lo_inc, hi_inc = inclusive
        if minimum is None:
            lo = 0
        else:
            lo = (bisect_left if lo_inc else bisect_right)(self._keys, minimum)
        if maximum is None:
            hi = len(self._keys)
        else:
            hi = (bisect_right if hi_inc else bisect_left)(self._keys, maximum)
        if lo >= hi:
            return iter(())
        if reverse:
            return (self._items[i] for i in range(hi - 1, lo - 1, -1))
        return iter(self._items[lo:hi])

    # -- sequence protocol ------------------------------------------------
    def __contains__(self, value: object) -> bool:
        return self._find(value) >= 0

    def __getitem__(self, index: Any) -> Any:
        """An item, or a plain ``list`` for a slice."""
        return self._items[index]

    def __delitem__(self, index: Any) -> None:
        del self._items[index]
        del self._keys[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __reversed__(self) -> Iterator[Any]:
        return reversed(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SortedList):
            return self._items == other._items
        if isinstance(other, (list, tuple)):
            return self._items == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> "SortedList":
        """Return an independent shallow copy."""
        new = type(self).__new__(type(self))
        new._key = self._key
        new._items = list(self._items)
        new._keys = list(self._keys)
        return new

    def __copy__(self) -> "SortedList":
        return self.copy()

    def __repr__(self) -> str:
        if self._key is None:
            return f"{type(self).__name__}({self._items!r})"
        return f"{type(self).__name__}({self._items!r}, key={self._key!r})"
