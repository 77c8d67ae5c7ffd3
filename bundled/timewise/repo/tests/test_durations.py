from datetime import timedelta

import pytest

from timewise import format_duration, parse_duration, split_seconds, to_timedelta


def test_parse_hours_and_minutes():
    assert parse_duration("1h30m") == timedelta(hours=1, minutes=30)


def test_parse_seconds_only():
    assert parse_duration("90s") == timedelta(seconds=90)


def test_parse_bare_number_is_seconds():
    assert parse_duration("90") == timedelta(seconds=90)
    assert parse_duration(" 1.5 ") == timedelta(seconds=1.5)


def test_parse_fractional_units():
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration(".5d") == timedelta(hours=12)


def test_parse_milliseconds_and_minutes_are_distinct():
    assert parse_duration("250ms") == timedelta(milliseconds=250)
    assert parse_duration("1m30s") == timedelta(seconds=90)
    assert parse_duration("1s500ms") == timedelta(seconds=1.5)


def test_parse_long_unit_names_and_separators():
    assert parse_duration("1 hour, 30 minutes") == timedelta(minutes=90)
    assert parse_duration("2 days and 3 hours") == timedelta(days=2, hours=3)
    assert parse_duration("1 week 2d") == timedelta(days=9)
    assert parse_duration("1H 30M") == timedelta(minutes=90)


def test_parse_negative_applies_to_whole_duration():
    assert parse_duration("-1h30m") == -timedelta(minutes=90)
    assert parse_duration("+45s") == timedelta(seconds=45)


def test_parse_clock_notation():
    assert parse_duration("1:30") == timedelta(hours=1, minutes=30)
    assert parse_duration("1:30:15") == timedelta(hours=1, minutes=30, seconds=15)
    assert parse_duration("0:00:01.5") == timedelta(seconds=1.5)


def test_parse_accepts_iso_8601():
    assert parse_duration("PT1H30M") == timedelta(minutes=90)
    assert parse_duration("-P1D") == timedelta(days=-1)


def test_parse_passes_through_timedelta_and_numbers():
    td = timedelta(minutes=3)
    assert parse_duration(td) is td
    assert parse_duration(120) == timedelta(minutes=2)
    assert to_timedelta(0.5) == timedelta(milliseconds=500)


@pytest.mark.parametrize(
    "text",
    ["", "-", "abc", "1x", "1h2h", "h", "1h and", "1:75", "1h-30m"],
    ids=["empty", "sign_only", "word", "unknown_unit", "repeated_unit", "no_number",
         "dangling_and", "bad_clock", "inner_sign"],
)
def test_parse_rejects_invalid_text(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_rejects_other_types():
    with pytest.raises(TypeError):
        parse_duration(None)


def test_split_seconds():
    assert split_seconds(93784) == (1, 2, 3, 4)
    assert split_seconds(0) == (0, 0, 0, 0)


def test_format_hours_and_minutes():
    assert format_duration(timedelta(hours=1, minutes=30)) == "1h30m"


def test_format_zero():
    assert format_duration(timedelta(0)) == "0s"


def test_format_milliseconds():
    assert format_duration(timedelta(seconds=1.25)) == "1s250ms"
    assert format_duration(timedelta(microseconds=999)) == "0s"


def test_format_days():
    assert format_duration(timedelta(days=2, hours=3)) == "2d3h"


def test_format_weeks_option():
    assert format_duration(timedelta(days=15), weeks=True) == "2w1d"
    assert format_duration(timedelta(days=15)) == "15d"


def test_format_separator():
    assert format_duration(timedelta(days=1, seconds=1.25), sep=" ") == "1d 1s 250ms"


def test_format_accepts_strings_and_numbers():
    assert format_duration("90 minutes") == "1h30m"
    assert format_duration(3661) == "1h1m1s"


@pytest.mark.parametrize(
    "text",
    ["1d2h3m4s", "45s", "2h", "1w3d", "1s1ms"],
    ids=["all_units", "seconds", "hours", "weeks", "milliseconds"],
)
def test_format_parse_roundtrip(text):
    assert format_duration(parse_duration(text), weeks=True) == text


def test_format_negative_duration():
    assert format_duration(timedelta(minutes=-90)) == "-1h30m"
    assert format_duration(timedelta(seconds=-90)) == "-1m30s"
    assert format_duration(timedelta(days=-2, milliseconds=-5), sep=" ") == "-2d 5ms"


def test_format_negative_roundtrip():
    for text in ["-1h30m", "-45s", "-1d2h"]:
        assert format_duration(parse_duration(text)) == text
