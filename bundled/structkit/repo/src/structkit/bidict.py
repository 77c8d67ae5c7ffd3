"""A one-to-one mapping with a live inverse.

    >>> codes = BiDict(en="English", fr="French")
    >>> codes.inverse["French"]
    'fr'
    >>> codes.inverse["German"] = "de"
    >>> codes["de"]
    'German'
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Hashable, Iterator, Optional

__all__ = ["BiDict", "ValueDuplicationError"]

_MISSING = object()


class ValueDuplicationError(ValueError):
    """Raised when a value is already bound to a different key."""

    def __init__(self, value: Any, existing_key: Any) -> None:
        super().__init__(f"value {value!r} is already bound to key {existing_key!r}")
        self.value = value
        self.existing_key = existing_key


class BiDict(MutableMapping):
    """A dict whose values are unique, so it can be looked up in both directions.

    ``bd.inverse`` is a live :class:`BiDict` view mapping values back to keys;
    changing either side updates the other, and ``bd.inverse.inverse is bd``.

    Binding a value that already belongs to *another* key raises
    :class:`ValueDuplicationError` and leaves the mapping unchanged; use
    :meth:`forceput` (or ``put(..., overwrite=True)``) to move the value
    instead, dropping the other key.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._fwd: dict = {}
        self._inv: dict = {}
        self._inverse: Optional["BiDict"] = None
        if args or kwargs:
            self.update(*args, **kwargs)

    @property
    def inverse(self) -> "BiDict":
        """The value -> key view; shares storage with this mapping."""
        if self._inverse is None:
            inv = type(self).__new__(type(self))
            inv._fwd = self._inv
            inv._inv = self._fwd
            inv._inverse = self
            self._inverse = inv
        return self._inverse

    def put(self, key: Hashable, value: Hashable, *, overwrite: bool = False) -> None:
        """Bind *key* to *value*.

        If *value* already belongs to another key, raise
        :class:`ValueDuplicationError`, or with *overwrite* remove that key.
        Any previous value of *key* is released.
        """
        owner = self._inv.get(value, _MISSING)
        if owner is not _MISSING and owner != key:
            if not overwrite:
                raise ValueDuplicationError(value, owner)
            del self._fwd[owner]
        old = self._fwd.get(key, _MISSING)
        if old is not _MISSING:
            del self._inv[old]
        self._fwd[key] = value
        self._inv[value] = key

    def forceput(self, key: Hashable, value: Hashable) -> None:
        """``put(key, value, overwrite=True)``."""
        self.put(key, value, overwrite=True)

    def key_for(self, value: Hashable, default: Any = None) -> Any:
        """The key bound to *value*, or *default*."""
        return self._inv.get(value, default)

    # -- mapping protocol -------------------------------------------------
    def __getitem__(self, key: Hashable) -> Any:
        return self._fwd[key]

    def __setitem__(self, key: Hashable, value: Hashable) -> None:
        self.put(key, value)

    def __delitem__(self, key: Hashable) -> None:
        value = self._fwd.pop(key)
        del self._inv[value]

    def __contains__(self, key: object) -> bool:
        return key in self._fwd

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._fwd)

    def __len__(self) -> int:
        return len(self._fwd)

    def clear(self) -> None:
        self._fwd.clear()
        self._inv.clear()

    def copy(self) -> "BiDict":
        """Return an independent copy (with its own inverse)."""
        new = type(self).__new__(type(self))
        new._fwd = dict(self._fwd)
        new._inv = dict(self._inv)
        new._inverse = None
        return new

    def __copy__(self) -> "BiDict":
        return self.copy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._fwd!r})"
