"""Compact, human-friendly durations such as ``"1h30m"``, ``"90s"`` or ``"1:30:00"``.

:func:`parse_duration` turns text into a :class:`datetime.timedelta` and
:func:`format_duration` turns a timedelta back into the compact form.  ISO 8601
durations (``"PT1H30M"``) live in :mod:`timewise.iso`, but ``parse_duration``
accepts them too.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Tuple, Union

__all__ = ["DurationLike", "parse_duration", "format_duration", "split_seconds", "to_timedelta"]

DurationLike = Union[timedelta, int, float, str]

_MICROSECOND = timedelta(microseconds=1)

# Every spelling of a unit that the parser understands, mapped to the keyword
# argument of ``timedelta`` it stands for.
_UNIT_ALIASES = {
    "w": "weeks", "wk": "weeks", "wks": "weeks", "week": "weeks", "weeks": "weeks",
    "d": "days", "day": "days", "days": "days",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "ms": "milliseconds", "msec": "milliseconds", "millisecond": "milliseconds",
    "milliseconds": "milliseconds",
}

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_TOKEN_RE = re.compile(r"(" + _NUMBER + r")\s*([a-zA-Z]+)")
_SEPARATOR_RE = re.compile(r"(?:[\s,]+(?:and\s+)?)?")
_CLOCK_RE = re.compile(r"(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?")
_BARE_NUMBER_RE = re.compile(_NUMBER)


def parse_duration(text: DurationLike) -> timedelta:
    """Parse a duration written in one of several common notations.

    Accepted forms:

    * unit sequences: ``"1h30m"``, ``"1h 30m"``, ``"2d4h"``, ``"1.5h"``, ``"250ms"``,
      ``"1 hour, 30 minutes"``, ``"2 days and 3 hours"`` (each unit at most once);
    * clock notation ``"H:MM"`` or ``"H:MM:SS"``: ``"1:30"`` is 1 hour 30 minutes;
    * a bare number, taken as seconds: ``"90"``;
    * ISO 8601 durations such as ``"PT1H30M"`` (see :func:`timewise.iso.parse_iso_duration`).

    A leading ``-`` negates the whole duration: ``"-1h30m"`` is minus 90 minutes.
    Timedeltas are returned unchanged and numbers are taken as seconds.

    Raises :class:`ValueError` for text that is not a duration.
    """
    if isinstance(text, timedelta):
        return text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return timedelta(seconds=text)
    if not isinstance(text, str):
        raise TypeError(f"cannot parse a duration from {type(text).__name__}")

    source = text
    text = text.strip()
    if text.lstrip("+-")[:1] in ("P", "p"):
        from .iso import parse_iso_duration

        return parse_iso_duration(text)

    negative = text.startswith("-")
    if text[:1] in "+-":
        text = text[1:].lstrip()
    if not text:
        raise ValueError(f"invalid duration: {source!r}")

    result = _parse_body(text, source)
    return -result if negative else result


def _parse_body(text: str, source: str) -> timedelta:
    if _BARE_NUMBER_RE.fullmatch(text):
        return timedelta(seconds=float(text))

    clock = _CLOCK_RE.fullmatch(text)
    if clock:
        hours, minutes, seconds = clock.groups()
        return timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds or 0))

    total = timedelta(0)
    seen = set()
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise ValueError(f"invalid duration: {source!r}")
        number, unit = match.groups()
        keyword = _UNIT_ALIASES.get(unit.lower())
        if keyword is None:
            raise ValueError(f"unknown duration unit {unit!r} in {source!r}")
        if keyword in seen:
            raise ValueError(f"unit {unit!r} given twice in {source!r}")
        seen.add(keyword)
        total += timedelta(**{keyword: float(number)})
        pos = _SEPARATOR_RE.match(text, match.end()).end()
    return total


def to_timedelta(value: DurationLike) -> timedelta:
    """Coerce a timedelta, a number of seconds or a duration string to a timedelta."""
    return parse_duration(value)


def split_seconds(seconds: int) -> Tuple[int, int, int, int]:
    """Split a non-negative number of whole seconds into ``(days, hours, minutes, seconds)``.

    >>> split_seconds(93784)
    (1, 2, 3, 4)
    """
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return days, hours, minutes, seconds


def format_duration(value: DurationLike, *, weeks: bool = False, sep: str = "") -> str:
    """Format a duration in the compact notation read by :func:`parse_duration`.

    Zero components are left out and sub-millisecond precision is dropped::

        >>> format_duration(timedelta(hours=1, minutes=30))
        '1h30m'
        >>> format_duration(timedelta(days=1, seconds=1.25), sep=" ")
        '1d 1s 250ms'

    With ``weeks=True`` whole weeks are written with a ``w`` unit instead of as
    multiples of 7 days.  Negative durations get a single leading ``-``; a zero
    duration is ``"0s"``.
    """
    td = to_timedelta(value)
    micros = td // _MICROSECOND
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, micros = divmod(micros, 1_000_000)
    days, hours, minutes, seconds = split_seconds(seconds)

    parts = []
    if weeks and days >= 7:
        parts.append(f"{days // 7}w")
        days %= 7
    for amount, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")):
        if amount:
            parts.append(f"{amount}{unit}")
    if micros // 1000:
        parts.append(f"{micros // 1000}ms")
    if not parts:
        return "0s"
    return sign + sep.join(parts)
