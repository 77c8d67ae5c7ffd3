"""A least-recently-used cache with an optional time-to-live.

The clock is injectable, so expiry can be tested without sleeping::

    >>> now = [0.0]
    >>> cache = LRUCache(2, ttl=10, clock=lambda: now[0])
    >>> cache["a"] = 1
    >>> now[0] = 10
    >>> "a" in cache
    False
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterator, List, NamedTuple, Optional, Tuple

__all__ = ["CacheStats", "LRUCache"]

_MISSING = object()


class CacheStats(NamedTuple):
    """Counters returned by :meth:`LRUCache.stats`."""

    hits: int
    misses: int
    evictions: int
    currsize: int
    maxsize: int


class LRUCache:
    """A mapping of at most *maxsize* entries that evicts the least recently used one.

    ``get``/``[]`` count as a use and move the entry to the most recently used
    position; ``peek`` and ``in`` do not.  With *ttl* (seconds, per the *clock*),
    an entry expires *ttl* after it was last written with ``put``/``[]=``;
    reading an entry does not extend its life.  Expired entries behave as if
    absent and are dropped lazily.  *on_evict(key, value)* is called for every
    entry removed to make room (not for expired or explicitly deleted ones).
    """

    def __init__(
        self,
        maxsize: int,
        ttl: Optional[float] = None,
        clock: Callable[[], float] = time.monotonic,
        on_evict: Optional[Callable[[Hashable, Any], None]] = None,
    ) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be a positive int, got {maxsize!r}")
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be positive or None, got {ttl!r}")
        self._maxsize = maxsize
        self._ttl = ttl
        self._clock = clock
        self._on_evict = on_evict
        # key -> (value, expires_at or None); ordered from least to most recently used
        self._data: "OrderedDict[Hashable, Tuple[Any, Optional[float]]]" = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    # -- properties -------------------------------------------------------
    @property
    def maxsize(self) -> int:
        return self._maxsize

    @property
    def ttl(self) -> Optional[float]:
        return self._ttl

    # -- internals --------------------------------------------------------
    def _deadline(self, now: float) -> Optional[float]:
        return None if self._ttl is None else now + self._ttl

    @staticmethod
    def _expired(expires_at: Optional[float], now: float) -> bool:
        return expires_at is not None and now >= expires_at

    def _store(self, key: Hashable, value: Any, now: float) -> None:
        """Write *key* as the most recently used entry with a fresh deadline."""
        self._data.pop(key, None)
        self._data[key] = (value, self._deadline(now))

    def _make_room(self, now: float) -> None:
        """Drop expired entries, then evict LRU entries until one slot is free."""
        if len(self._data) < self._maxsize:
            return
        self.expire(now)
        while len(self._data) >= self._maxsize:
            key, (value, _) = self._data.popitem(last=False)
            self._evictions += 1
            if self._on_evict is not None:
                self._on_evict(key, value)

    def _live(self, key: Hashable, now: float) -> Any:
        """Return the stored value of *key*, or ``_MISSING`` (dropping it if expired)."""
        entry = self._data.get(key, _MISSING)
        if entry is _MISSING:
            return _MISSING
        value, expires_at = entry
        if self._expired(expires_at, now):
            del self._data[key]
            return _MISSING
        return value

    # -- public API -------------------------------------------------------
    def get(self, key: Hashable, default: Any = None) -> Any:
        """Return the value for *key* and mark it most recently used, else *default*."""
        now = self._clock()
        value = self._live(key, now)
        if value is _MISSING:
            self._misses += 1
            return default
        self._data.move_to_end(key)
        self._hits += 1
        return value

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """Return the value for *key* without touching recency or statistics."""
        value = self._live(key, self._clock())
        return default if value is _MISSING else value

    def put(self, key: Hashable, value: Any) -> None:
        """Insert or replace *key*; it becomes the most recently used entry."""
        now = self._clock()
        if key not in self._data:
            self._make_room(now)
        self._store(key, value, now)

    def pop(self, key: Hashable, default: Any = _MISSING) -> Any:
        """Remove *key* and return its value (or *default*; ``KeyError`` without one)."""
        value = self._live(key, self._clock())
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        del self._data[key]
        return value

    def expire(self, now: Optional[float] = None) -> int:
        """Drop every expired entry now; return how many were dropped."""
        if self._ttl is None:
            return 0
        if now is None:
            now = self._clock()
        dead = [k for k, (_, exp) in self._data.items() if self._expired(exp, now)]
        for key in dead:
            del self._data[key]
        return len(dead)

    def clear(self) -> None:
        """Remove every entry (statistics are kept)."""
        self._data.clear()

    def keys(self) -> List[Hashable]:
        """Live keys, from least to most recently used."""
        now = self._clock()
        return [k for k, (_, exp) in self._data.items() if not self._expired(exp, now)]

    def items(self) -> List[Tuple[Hashable, Any]]:
        """Live ``(key, value)`` pairs, from least to most recently used."""
        now = self._clock()
        return [(k, v) for k, (v, exp) in self._data.items() if not self._expired(exp, now)]

    def stats(self) -> CacheStats:
        return CacheStats(self._hits, self._misses, self._evictions, len(self), self._maxsize)

    def copy(self) -> "LRUCache":
        """Return an independent cache with the same entries, order and settings."""
        new = type(self)(self._maxsize, ttl=self._ttl, clock=self._clock, on_evict=self._on_evict)
        new._data = OrderedDict(self._data)
        return new

    def __copy__(self) -> "LRUCache":
        return self.copy()

    # -- mapping protocol -------------------------------------------------
    def __getitem__(self, key: Hashable) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Hashable, value: Any) -> None:
        self.put(key, value)

    def __delitem__(self, key: Hashable) -> None:
        self.pop(key)

    def __contains__(self, key: object) -> bool:
        return self._live(key, self._clock()) is not _MISSING

    def __len__(self) -> int:
        if self._ttl is None:
            return len(self._data)
        now = self._clock()
        return sum(1 for _, exp in self._data.values() if not self._expired(exp, now))

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self.keys())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(maxsize={self._maxsize}, ttl={self._ttl!r}, items={self.items()!r})"
