from datetime import date, datetime, timedelta, timezone

import pytest

from timewise import humanize, humanize_delta

NOW = datetime(2024, 3, 5, 12, 0, 0)


def test_humanize_delta_basic_units():
    assert humanize_delta(timedelta(days=3)) == "3 days"
    assert humanize_delta(timedelta(seconds=1)) == "1 second"
    assert humanize_delta(timedelta(minutes=5)) == "5 minutes"
    assert humanize_delta(timedelta(days=400)) == "1 year"
    assert humanize_delta(timedelta(days=40)) == "1 month"


def test_humanize_delta_zero_and_sign():
    assert humanize_delta(timedelta(0)) == "0 seconds"
    assert humanize_delta(timedelta(hours=-2)) == "2 hours"


def test_humanize_delta_rounds_half_up():
    assert humanize_delta(timedelta(hours=2, minutes=40)) == "3 hours"
    assert humanize_delta(timedelta(minutes=90)) == "2 hours"
    assert humanize_delta(timedelta(hours=2, minutes=20)) == "2 hours"


def test_humanize_delta_precision_two():
    assert humanize_delta(timedelta(minutes=90), precision=2) == "1 hour, 30 minutes"
    assert humanize_delta(timedelta(hours=1, minutes=29, seconds=40), precision=2) == "1 hour, 30 minutes"
    assert humanize_delta(timedelta(days=17), precision=2) == "2 weeks, 3 days"
    assert humanize_delta(timedelta(days=14, minutes=5), precision=2) == "2 weeks"


def test_humanize_delta_without_weeks():
    assert humanize_delta(timedelta(days=14), weeks=False) == "14 days"
    assert humanize_delta(timedelta(days=14)) == "2 weeks"


def test_humanize_delta_accepts_duration_strings():
    assert humanize_delta("1h30m", precision=2) == "1 hour, 30 minutes"


def test_humanize_delta_rejects_bad_precision():
    with pytest.raises(ValueError):
        humanize_delta(timedelta(1), precision=0)


def test_humanize_future_and_past():
    assert humanize(NOW + timedelta(days=3), now=NOW) == "in 3 days"
    assert humanize(NOW - timedelta(hours=2), now=NOW) == "2 hours ago"
    assert humanize(NOW + timedelta(days=2, hours=18), now=NOW) == "in 3 days"
    assert humanize(NOW - timedelta(minutes=1), now=NOW) == "1 minute ago"


def test_humanize_just_now():
    assert humanize(NOW, now=NOW) == "just now"
    assert humanize(NOW + timedelta(milliseconds=400), now=NOW) == "just now"


def test_humanize_timedelta_and_string_values():
    assert humanize(timedelta(hours=5)) == "in 5 hours"
    assert humanize(timedelta(hours=-5)) == "5 hours ago"
    assert humanize("-90s", precision=2) == "1 minute, 30 seconds ago"


def test_humanize_dates():
    assert humanize(date(2024, 3, 8), now=date(2024, 3, 5)) == "in 3 days"
    assert humanize(date(2024, 2, 20), now=date(2024, 3, 5)) == "2 weeks ago"


def test_humanize_aware_datetimes():
    tz = timezone(timedelta(hours=2))
    value = datetime(2024, 3, 5, 15, 0, tzinfo=tz)
    now = datetime(2024, 3, 5, 12, 0, tzinfo=timezone.utc)
    assert humanize(value, now=now) == "in 1 hour"


def test_humanize_precision_two():
    value = NOW - timedelta(hours=1, minutes=30)
    assert humanize(value, now=NOW, precision=2) == "1 hour, 30 minutes ago"


def test_humanize_rounding_carries_into_next_unit():
    assert humanize(NOW + timedelta(minutes=59, seconds=40), now=NOW) == "in 1 hour"
    assert humanize(NOW - timedelta(hours=23, minutes=45), now=NOW) == "1 day ago"
    assert humanize(NOW + timedelta(days=6, hours=20), now=NOW) == "in 1 week"
    assert humanize(NOW - timedelta(seconds=59.6), now=NOW) == "1 minute ago"


def test_humanize_delta_carry_with_precision_two():
    assert humanize_delta(timedelta(hours=1, minutes=59, seconds=50), precision=2) == "2 hours"
    assert humanize_delta(timedelta(hours=23, minutes=59, seconds=45), precision=2) == "1 day"
