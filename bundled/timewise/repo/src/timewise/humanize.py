"""Describe time differences in words: ``"in 3 days"``, ``"2 hours ago"``.

Amounts are rounded half up to the smallest unit shown, so 2 hours 40 minutes
is ``"3 hours"`` and, with ``precision=2``, 1 hour 29 minutes 40 seconds is
``"1 hour, 30 minutes"``.  Months count as 30 days and years as 365 days.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import List, Optional, Sequence, Tuple, Union

from .durations import DurationLike, to_timedelta

__all__ = ["humanize_delta", "humanize"]

_DAY = 86400
_UNITS: Tuple[Tuple[str, int], ...] = (
    ("year", 365 * _DAY),
    ("month", 30 * _DAY),
    ("week", 7 * _DAY),
    ("day", _DAY),
    ("hour", 3600),
    ("minute", 60),
    ("second", 1),
)
_UNITS_NO_WEEKS = tuple(unit for unit in _UNITS if unit[0] != "week")

Unit = Tuple[str, int]


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _leading_unit(seconds: float, units: Sequence[Unit]) -> int:
    """Index of the largest unit that fits in ``seconds`` (the smallest unit if none does)."""
    for index, (_, size) in enumerate(units):
        if seconds >= size:
            return index
    return len(units) - 1


def _parts(seconds: float, precision: int, units: Sequence[Unit]) -> List[Tuple[int, str]]:
    """Split ``seconds`` into at most ``precision`` consecutive units, largest first."""
    first = _leading_unit(seconds, units)
    last = min(first + precision, len(units)) - 1
    resolution = units[last][1]
    seconds = _round_half_up(seconds / resolution) * resolution
    # Rounding can carry into a larger unit (59.7 minutes round to 60 minutes,
    # which is 1 hour), so the leading unit is chosen again on the rounded value.
    first = _leading_unit(seconds, units)
    parts = []
    for name, size in units[first:first + precision]:
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append((int(amount), name))
    return parts


def _join(parts: List[Tuple[int, str]]) -> str:
    return ", ".join(f"{amount} {name}" + ("" if amount == 1 else "s") for amount, name in parts)


def humanize_delta(delta: DurationLike, precision: int = 1, *, weeks: bool = True) -> str:
    """Describe the size of a duration, ignoring its sign: ``"3 days"``, ``"1 hour, 30 minutes"``.

    ``precision`` is the number of consecutive units shown (zero amounts are
    left out); ``weeks=False`` never uses weeks (``"14 days"``).  A duration that
    rounds to zero is ``"0 seconds"``.
    """
    if precision < 1:
        raise ValueError("precision must be at least 1")
    seconds = abs(to_timedelta(delta)).total_seconds()
    parts = _parts(seconds, precision, _UNITS if weeks else _UNITS_NO_WEEKS)
    return _join(parts) if parts else "0 seconds"


def humanize(value: Union[datetime, date, DurationLike], now: Optional[Union[datetime, date]] = None,
             *, precision: int = 1, weeks: bool = True) -> str:
    """Describe a moment relative to ``now``: ``"in 3 days"``, ``"2 hours ago"``, ``"just now"``.

    ``value`` is a datetime or date (compared with ``now``), or a duration that
    is already the difference (positive for the future).  ``now`` defaults to
    the current time (in the timezone of an aware ``value``) or today's date;
    pass it explicitly for reproducible results.
    """
    if isinstance(value, (datetime, date)):
        if now is None:
            if isinstance(value, datetime):
                now = datetime.now(value.tzinfo)
            else:
                now = date.today()
        delta = value - now
    else:
        delta = to_timedelta(value)
    if precision < 1:
        raise ValueError("precision must be at least 1")

    seconds = delta.total_seconds()
    parts = _parts(abs(seconds), precision, _UNITS if weeks else _UNITS_NO_WEEKS)
    if not parts:
        return "just now"
    text = _join(parts)
    return f"in {text}" if seconds > 0 else f"{text} ago"
