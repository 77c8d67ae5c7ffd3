"""timewise: small, dependency-free date/time helpers.

* :mod:`timewise.durations` -- ``"1h30m"``-style durations.
* :mod:`timewise.iso` -- ISO 8601 durations and ISO weeks.
* :mod:`timewise.dates` -- month arithmetic and business days.
* :mod:`timewise.humanize` -- ``"in 3 days"``, ``"2 hours ago"``.
"""
from .dates import (
    WEEKEND,
    add_business_days,
    add_months,
    business_days_between,
    end_of_month,
    is_business_day,
    start_of_month,
)
from .durations import format_duration, parse_duration, split_seconds, to_timedelta
from .humanize import humanize, humanize_delta
from .iso import (
    format_iso_duration,
    format_iso_week,
    iso_week,
    iso_week_range,
    parse_iso_duration,
    parse_iso_week,
    week_start,
    weeks_in_year,
)

__version__ = "0.4.0"

__all__ = [
    "WEEKEND",
    "add_business_days",
    "add_months",
    "business_days_between",
    "end_of_month",
    "format_duration",
    "format_iso_duration",
    "format_iso_week",
    "humanize",
    "humanize_delta",
    "is_business_day",
    "iso_week",
    "iso_week_range",
    "parse_duration",
    "parse_iso_duration",
    "parse_iso_week",
    "split_seconds",
    "start_of_month",
    "to_timedelta",
    "week_start",
    "weeks_in_year",
]
