from datetime import date, datetime, timezone

import pytest

from timewise import (
    add_business_days,
    add_months,
    business_days_between,
    end_of_month,
    is_business_day,
    start_of_month,
)

FRI_SAT = {4, 5}


def test_start_and_end_of_month():
    assert start_of_month(date(2024, 2, 17)) == date(2024, 2, 1)
    assert end_of_month(date(2024, 2, 17)) == date(2024, 2, 29)
    assert end_of_month(date(2023, 2, 1)) == date(2023, 2, 28)
    assert end_of_month(datetime(2024, 4, 3, 9, 15)) == datetime(2024, 4, 30, 9, 15)


def test_add_months_simple():
    assert add_months(date(2024, 1, 15), 1) == date(2024, 2, 15)
    assert add_months(date(2024, 1, 15), 0) == date(2024, 1, 15)
    assert add_months(date(2024, 5, 15), 12) == date(2025, 5, 15)


def test_add_months_clamps_to_end_of_month():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2024, 3, 31), 1) == date(2024, 4, 30)


def test_add_months_across_year_end():
    assert add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)


def test_add_months_backwards_within_year():
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2024, 12, 31), -10) == date(2024, 2, 29)


def test_add_months_backwards_into_previous_year():
    assert add_months(date(2024, 1, 15), -1) == date(2023, 12, 15)
    assert add_months(date(2024, 1, 31), -2) == date(2023, 11, 30)
    assert add_months(date(2024, 3, 15), -15) == date(2022, 12, 15)


def test_add_months_keeps_time_and_tzinfo():
    start = datetime(2024, 1, 31, 9, 30, tzinfo=timezone.utc)
    assert add_months(start, 1) == datetime(2024, 2, 29, 9, 30, tzinfo=timezone.utc)


def test_add_months_keep_end_of_month():
    assert add_months(date(2024, 2, 29), 1) == date(2024, 3, 29)
    assert add_months(date(2024, 2, 29), 1, keep_end_of_month=True) == date(2024, 3, 31)
    assert add_months(date(2024, 2, 28), 1, keep_end_of_month=True) == date(2024, 3, 28)


def test_add_months_rejects_fractional_months():
    with pytest.raises(TypeError):
        add_months(date(2024, 1, 1), 1.5)


def test_is_business_day():
    assert is_business_day(date(2024, 3, 8))
    assert not is_business_day(date(2024, 3, 9))
    assert not is_business_day(date(2024, 12, 25), holidays=["2024-12-25"])
    assert is_business_day(date(2024, 3, 10), weekend=FRI_SAT)
    assert not is_business_day(datetime(2024, 3, 8, 12), weekend=FRI_SAT)


def test_invalid_weekend_is_rejected():
    with pytest.raises(ValueError):
        is_business_day(date(2024, 3, 8), weekend=range(7))
    with pytest.raises(ValueError):
        is_business_day(date(2024, 3, 8), weekend={7})


def test_add_business_days_skips_weekend():
    assert add_business_days(date(2024, 3, 8), 1) == date(2024, 3, 11)
    assert add_business_days(date(2024, 3, 4), 10) == date(2024, 3, 18)


def test_add_business_days_skips_holidays():
    holidays = [date(2024, 12, 25), date(2024, 12, 26)]
    assert add_business_days(date(2024, 12, 24), 1, holidays) == date(2024, 12, 27)
    assert add_business_days(date(2024, 12, 27), -1, holidays) == date(2024, 12, 24)


def test_add_business_days_backwards():
    assert add_business_days(date(2024, 3, 11), -1) == date(2024, 3, 8)
    assert add_business_days(date(2024, 3, 9), -1) == date(2024, 3, 8)


def test_add_zero_business_days_rolls_forward():
    assert add_business_days(date(2024, 3, 8), 0) == date(2024, 3, 8)
    assert add_business_days(date(2024, 3, 9), 0) == date(2024, 3, 11)


def test_add_business_days_custom_weekend_and_datetime():
    assert add_business_days(date(2024, 3, 7), 1, weekend=FRI_SAT) == date(2024, 3, 10)
    start = datetime(2024, 3, 8, 17, 45)
    assert add_business_days(start, 1) == datetime(2024, 3, 11, 17, 45)


def test_business_days_between_full_week():
    assert business_days_between(date(2024, 3, 4), date(2024, 3, 11)) == 5
    assert business_days_between(date(2024, 3, 4), date(2024, 3, 4)) == 0
    assert business_days_between("2024-03-09", "2024-03-11") == 0


def test_business_days_between_reversed_is_negative():
    assert business_days_between(date(2024, 3, 11), date(2024, 3, 4)) == -5


def test_business_days_between_subtracts_weekday_holidays():
    holidays = [date(2024, 12, 25), date(2024, 12, 26), date(2025, 1, 1)]
    assert business_days_between(date(2024, 12, 23), date(2025, 1, 6), holidays) == 7


def test_business_days_between_custom_weekend():
    # Friday/Saturday weekend: Sunday is a working day, so a Sunday holiday counts.
    start, end = date(2024, 3, 3), date(2024, 3, 17)  # two weeks, Sunday to Sunday
    assert business_days_between(start, end, weekend=FRI_SAT) == 10
    assert business_days_between(start, end, [date(2024, 3, 10)], weekend=FRI_SAT) == 9


def test_business_days_between_agrees_with_add_business_days():
    holidays = [date(2024, 5, 27), date(2024, 7, 4), date(2024, 9, 2)]
    start = date(2024, 5, 1)
    for n in range(0, 120, 7):
        end = add_business_days(start, n, holidays)
        assert business_days_between(start, end, holidays) == n


def test_business_days_between_ignores_holidays_on_weekends():
    # Christmas and Boxing Day 2021 fell on a weekend; the observed days were Dec 27 and 28.
    holidays = [date(2021, 12, 25), date(2021, 12, 26), date(2021, 12, 27), date(2021, 12, 28)]
    start, end = date(2021, 12, 20), date(2022, 1, 3)
    assert business_days_between(start, end, holidays) == 8
    assert add_business_days(start, 8, holidays) == end


def test_business_days_between_custom_weekend_ignores_weekend_holidays():
    # A holiday on a Friday is already a day off with a Friday/Saturday weekend.
    start, end = date(2024, 3, 3), date(2024, 3, 17)
    assert business_days_between(start, end, [date(2024, 3, 8)], weekend=FRI_SAT) == 10
