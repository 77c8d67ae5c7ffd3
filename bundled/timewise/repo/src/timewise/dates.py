"""Calendar arithmetic: months that clamp to the end of month, and business days.

Business-day functions take an optional collection of ``holidays`` (dates,
datetimes or ``"YYYY-MM-DD"`` strings) and an optional ``weekend``: the
weekday numbers (Monday is 0, Sunday is 6) that are never business days.  The
default weekend is Saturday and Sunday.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import FrozenSet, Iterable, TypeVar, Union

__all__ = [
    "WEEKEND",
    "start_of_month",
    "end_of_month",
    "add_months",
    "is_business_day",
    "add_business_days",
    "business_days_between",
]

#: Saturday and Sunday.
WEEKEND: FrozenSet[int] = frozenset({5, 6})

D = TypeVar("D", date, datetime)
DateInput = Union[date, datetime, str]
_ONE_DAY = timedelta(days=1)


def _as_date(value: DateInput) -> date:
    """Coerce a date, a datetime or an ISO ``"YYYY-MM-DD"`` string to a plain date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise TypeError(f"expected a date, datetime or ISO date string, not {type(value).__name__}")


def _holiday_set(holidays: Iterable[DateInput]) -> FrozenSet[date]:
    return frozenset(_as_date(day) for day in holidays)


def _weekend_set(weekend: Iterable[int]) -> FrozenSet[int]:
    days = frozenset(weekend)
    if not days <= set(range(7)):
        raise ValueError(f"weekend days must be weekday numbers 0..6, got {sorted(days)}")
    if len(days) == 7:
        raise ValueError("a week needs at least one business day")
    return days


def start_of_month(value: D) -> D:
    """Return the first day of the month of ``value`` (the time of a datetime is kept)."""
    return value.replace(day=1)


def end_of_month(value: D) -> D:
    """Return the last day of the month of ``value`` (the time of a datetime is kept)."""
    return value.replace(day=calendar.monthrange(value.year, value.month)[1])


def add_months(value: D, months: int, *, keep_end_of_month: bool = False) -> D:
    """Add a number of calendar months (negative to go back) to a date or datetime.

    When the target month is shorter than the day of ``value``, the result is
    clamped to the last day of that month::

        >>> add_months(date(2024, 1, 31), 1)
        datetime.date(2024, 2, 29)

    With ``keep_end_of_month=True`` a date that is the last day of its month
    maps to the last day of the target month (``2024-02-29`` + 1 month is
    ``2024-03-31`` instead of ``2024-03-29``).  The time and tzinfo of a datetime
    are kept.
    """
    if not isinstance(months, int):
        raise TypeError("months must be an integer")
    total = value.month - 1 + months
    year = value.year + total // 12
    month = total % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    at_end = value.day == calendar.monthrange(value.year, value.month)[1]
    day = last_day if keep_end_of_month and at_end else min(value.day, last_day)
    return value.replace(year=year, month=month, day=day)


def is_business_day(value: DateInput, holidays: Iterable[DateInput] = (),
                    weekend: Iterable[int] = WEEKEND) -> bool:
    """Return True if ``value`` is neither a weekend day nor a holiday."""
    day = _as_date(value)
    return day.weekday() not in _weekend_set(weekend) and day not in _holiday_set(holidays)


def add_business_days(start: D, days: int, holidays: Iterable[DateInput] = (),
                      weekend: Iterable[int] = WEEKEND) -> D:
    """Move ``days`` business days forward (or backward if negative) from ``start``.

    Weekend days and holidays are skipped: one business day after a Friday is
    the next Monday.  With ``days == 0`` the start is returned if it is a business
    day, otherwise the next business day.  A datetime keeps its time of day.
    """
    holiday_set = _holiday_set(holidays)
    weekend_set = _weekend_set(weekend)

    def is_open(value: D) -> bool:
        day = _as_date(value)
        return day.weekday() not in weekend_set and day not in holiday_set

    current = start
    if days == 0:
        while not is_open(current):
            current += _ONE_DAY
        return current
    step = _ONE_DAY if days > 0 else -_ONE_DAY
    remaining = abs(days)
    while remaining:
        current += step
        if is_open(current):
            remaining -= 1
    return current


def business_days_between(start: DateInput, end: DateInput, holidays: Iterable[DateInput] = (),
                          weekend: Iterable[int] = WEEKEND) -> int:
    """Count the business days in the half-open range ``[start, end)``.

    Like ``numpy.busday_count``: the start day counts, the end day does not, and
    the result is negative when ``end`` is before ``start``.  Runs in time
    proportional to the number of holidays, not to the length of the range.
    """
    first, last = _as_date(start), _as_date(end)
    if last < first:
        return -business_days_between(last, first, holidays, weekend)
    weekend_set = _weekend_set(weekend)

    full_weeks, extra_days = divmod((last - first).days, 7)
    count = full_weeks * (7 - len(weekend_set))
    for offset in range(extra_days):
        if (first.weekday() + offset) % 7 not in weekend_set:
            count += 1
    for holiday in _holiday_set(holidays):
        if first <= holiday < last and holiday.weekday() not in weekend_set:
            count -= 1
    return count
