from datetime import date, datetime, timedelta

import pytest

from timewise import (
    format_iso_duration,
    format_iso_week,
    iso_week,
    iso_week_range,
    parse_iso_duration,
    parse_iso_week,
    week_start,
    weeks_in_year,
)


def test_parse_iso_hours_minutes():
    assert parse_iso_duration("PT1H30M") == timedelta(minutes=90)


def test_parse_iso_days_and_time():
    assert parse_iso_duration("P1DT12H") == timedelta(days=1, hours=12)
    assert parse_iso_duration("P2W") == timedelta(weeks=2)


def test_parse_iso_fractions_sign_and_case():
    assert parse_iso_duration("PT0.5S") == timedelta(milliseconds=500)
    assert parse_iso_duration("PT1,5H") == timedelta(minutes=90)
    assert parse_iso_duration("-PT15M") == timedelta(minutes=-15)
    assert parse_iso_duration("pt2m") == timedelta(minutes=2)


def test_parse_iso_zero_years_and_months_are_fine():
    assert parse_iso_duration("P0Y0M3D") == timedelta(days=3)


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "1H", "PT1H30", "P1Y", "P2M", "P1DT"],
    ids=["empty", "bare_p", "bare_pt", "no_p", "no_unit", "years", "months", "dangling_t"],
)
def test_parse_iso_rejects_invalid(text):
    with pytest.raises(ValueError):
        parse_iso_duration(text)


def test_format_iso_basic():
    assert format_iso_duration(timedelta(minutes=90)) == "PT1H30M"
    assert format_iso_duration(timedelta(days=1)) == "P1D"
    assert format_iso_duration(timedelta(days=1, seconds=5)) == "P1DT5S"


def test_format_iso_zero_and_fractions():
    assert format_iso_duration(timedelta(0)) == "PT0S"
    assert format_iso_duration(timedelta(seconds=1.5)) == "PT1.5S"
    assert format_iso_duration(timedelta(microseconds=250)) == "PT0.00025S"


def test_format_iso_roundtrip():
    for text in ["PT1H30M", "P3DT4H5M6S", "PT0.25S", "P10D"]:
        assert format_iso_duration(parse_iso_duration(text)) == text


def test_format_iso_negative():
    assert format_iso_duration(timedelta(minutes=-90)) == "-PT1H30M"
    assert format_iso_duration(timedelta(days=-1, seconds=-1.5)) == "-P1DT1.5S"


def test_format_iso_negative_roundtrip():
    for text in ["-PT15M", "-P2DT3H", "-PT0.5S"]:
        assert format_iso_duration(parse_iso_duration(text)) == text


def test_iso_week_of_new_years_day():
    assert iso_week(date(2021, 1, 1)) == (2020, 53)
    assert iso_week(datetime(2020, 12, 31, 23, 59)) == (2020, 53)
    assert iso_week(date(2026, 1, 1)) == (2026, 1)


def test_week_start_is_monday():
    assert week_start(date(2024, 3, 7)) == date(2024, 3, 4)
    assert week_start(date(2024, 3, 4)) == date(2024, 3, 4)
    assert week_start(datetime(2024, 3, 10, 8, 0)) == date(2024, 3, 4)


def test_weeks_in_long_and_short_years():
    assert weeks_in_year(2020) == 53
    assert weeks_in_year(2026) == 53
    assert weeks_in_year(2021) == 52
    assert weeks_in_year(2022) == 52
    assert weeks_in_year(2023) == 52


def test_weeks_in_year_when_december_31_is_in_next_years_week_one():
    assert weeks_in_year(2019) == 52
    assert weeks_in_year(2024) == 52
    assert weeks_in_year(2025) == 52


def test_iso_week_range_last_week_of_2024():
    assert iso_week_range(2024, 52) == (date(2024, 12, 23), date(2024, 12, 29))


def test_iso_week_range_first_week():
    assert iso_week_range(2020, 1) == (date(2019, 12, 30), date(2020, 1, 5))
    assert iso_week_range(2026, 1) == (date(2025, 12, 29), date(2026, 1, 4))
    assert iso_week_range(2021, 1) == (date(2021, 1, 4), date(2021, 1, 10))


def test_iso_week_range_last_week_of_long_year():
    assert iso_week_range(2020, 53) == (date(2020, 12, 28), date(2021, 1, 3))


@pytest.mark.parametrize(
    "year,week",
    [(2021, 53), (2022, 0), (2020, 54)],
    ids=["short_year_53", "week_zero", "long_year_54"],
)
def test_iso_week_range_rejects_missing_weeks(year, week):
    with pytest.raises(ValueError):
        iso_week_range(year, week)


def test_format_and_parse_iso_week():
    assert format_iso_week(date(2021, 1, 1)) == "2020-W53"
    assert format_iso_week(date(2021, 1, 1), with_day=True) == "2020-W53-5"
    assert parse_iso_week("2020-W53") == date(2020, 12, 28)
    assert parse_iso_week("2020W535") == date(2021, 1, 1)
    with pytest.raises(ValueError):
        parse_iso_week("2020-53")
