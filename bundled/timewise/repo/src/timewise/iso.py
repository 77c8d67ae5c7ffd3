"""ISO 8601 helpers: durations (``"PT1H30M"``) and ISO weeks (``"2024-W05"``).

ISO weeks start on Monday, and week 1 of a year is the week that contains the
year's first Thursday (equivalently, the week that contains January 4th).  The
days of late December can therefore belong to week 1 of the next year, and the
days of early January to the last week of the previous year.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Tuple, Union

from .durations import DurationLike, split_seconds, to_timedelta

__all__ = [
    "parse_iso_duration",
    "format_iso_duration",
    "iso_week",
    "week_start",
    "weeks_in_year",
    "iso_week_range",
    "format_iso_week",
    "parse_iso_week",
]

_MICROSECOND = timedelta(microseconds=1)
_NUM = r"\d+(?:[.,]\d+)?"
_ISO_DURATION_RE = re.compile(
    r"(?P<sign>[+-])?P(?!$)"
    rf"(?:(?P<years>{_NUM})Y)?"
    rf"(?:(?P<months>{_NUM})M)?"
    rf"(?:(?P<weeks>{_NUM})W)?"
    rf"(?:(?P<days>{_NUM})D)?"
    rf"(?:T(?=\d)(?:(?P<hours>{_NUM})H)?(?:(?P<minutes>{_NUM})M)?(?:(?P<seconds>{_NUM})S)?)?",
    re.IGNORECASE,
)
_ISO_WEEK_RE = re.compile(r"(\d{4})-?W(\d{2})(?:-?([1-7]))?", re.IGNORECASE)

DateLike = Union[date, datetime]


def parse_iso_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration such as ``"PT1H30M"``, ``"P1DT12H"`` or ``"P2W"``.

    Fractions are allowed (``"PT0.5S"``, ``"PT1,5H"``) and a leading ``-`` negates
    the duration.  Years and months have no fixed length, so a non-zero ``Y`` or
    ``M`` date component raises :class:`ValueError`; use
    :func:`timewise.dates.add_months` for calendar months.
    """
    match = _ISO_DURATION_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"invalid ISO 8601 duration: {text!r}")
    fields = {k: float(v.replace(",", ".")) for k, v in match.groupdict().items()
              if v is not None and k != "sign"}
    if fields.pop("years", 0) or fields.pop("months", 0):
        raise ValueError(f"years and months have no fixed length: {text!r}")
    result = timedelta(**fields)
    return -result if match.group("sign") == "-" else result


def format_iso_duration(value: DurationLike) -> str:
    """Format a duration as ISO 8601, e.g. ``"P1DT2H30M"`` or ``"PT0.25S"``.

    Days are the largest unit used (a day is taken as 24 hours).  A zero
    duration is ``"PT0S"`` and a negative one gets a leading ``-`` (``"-PT15M"``),
    the form :func:`parse_iso_duration` reads back.
    """
    td = to_timedelta(value)
    micros = td // _MICROSECOND
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, micros = divmod(micros, 1_000_000)
    days, hours, minutes, seconds = split_seconds(seconds)

    date_part = f"{days}D" if days else ""
    time_part = ""
    if hours:
        time_part += f"{hours}H"
    if minutes:
        time_part += f"{minutes}M"
    if micros:
        time_part += f"{seconds}.{micros:06d}".rstrip("0") + "S"
    elif seconds:
        time_part += f"{seconds}S"
    if not date_part and not time_part:
        return "PT0S"
    return f"{sign}P{date_part}" + (f"T{time_part}" if time_part else "")


def _as_date(value: DateLike) -> date:
    return value.date() if isinstance(value, datetime) else value


def iso_week(value: DateLike) -> Tuple[int, int]:
    """Return the ISO ``(year, week)`` of a date: ``iso_week(date(2021, 1, 1)) == (2020, 53)``."""
    year, week, _ = _as_date(value).isocalendar()
    return year, week


def week_start(value: DateLike) -> date:
    """Return the Monday that starts the ISO week of ``value``."""
    day = _as_date(value)
    return day - timedelta(days=day.weekday())


def weeks_in_year(year: int) -> int:
    """Return the number of ISO weeks in ``year`` (52 or 53)."""
    # December 28th is always in the last ISO week of its year.
    return date(year, 12, 28).isocalendar()[1]


def iso_week_range(year: int, week: int) -> Tuple[date, date]:
    """Return the Monday and the Sunday of ISO week ``week`` of ``year``.

    Raises :class:`ValueError` if the year has no such week.
    """
    last = weeks_in_year(year)
    if not 1 <= week <= last:
        raise ValueError(f"week {week} is out of range for {year} (1..{last})")
    monday = date.fromisocalendar(year, week, 1)
    return monday, monday + timedelta(days=6)


def format_iso_week(value: DateLike, *, with_day: bool = False) -> str:
    """Format the ISO week of a date: ``"2020-W53"``, or ``"2020-W53-5"`` with the weekday."""
    year, week, weekday = _as_date(value).isocalendar()
    label = f"{year:04d}-W{week:02d}"
    return f"{label}-{weekday}" if with_day else label


def parse_iso_week(text: str) -> date:
    """Parse ``"2020-W53"`` (its Monday) or ``"2020-W53-5"`` / ``"2020W535"`` into a date."""
    match = _ISO_WEEK_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"invalid ISO week: {text!r}")
    year, week, weekday = match.groups()
    return date.fromisocalendar(int(year), int(week), int(weekday or 1))
