import datetime as dt

import pytest

from structkit import IntervalSet


def test_add_merges_overlapping():
    s = IntervalSet()
    s.add(0, 5)
    s.add(3, 8)
    assert list(s) == [(0, 8)]


def test_add_keeps_disjoint_intervals_sorted():
    s = IntervalSet([(10, 12), (0, 2), (5, 7)])
    assert list(s) == [(0, 2), (5, 7), (10, 12)]
    assert len(s) == 3


def test_add_merges_touching_interval_on_the_right():
    s = IntervalSet()
    s.add(0, 5)
    s.add(5, 9)
    assert list(s) == [(0, 9)]


def test_add_bridges_several_intervals():
    s = IntervalSet([(0, 2), (4, 6), (8, 10)])
    s.add(1, 9)
    assert list(s) == [(0, 10)]


def test_add_inside_existing_interval_is_noop():
    s = IntervalSet([(0, 10)])
    s.add(2, 3)
    assert list(s) == [(0, 10)]


def test_add_empty_interval_is_ignored():
    s = IntervalSet()
    s.add(3, 3)
    assert not s
    assert list(s) == []


def test_add_reversed_interval_raises():
    with pytest.raises(ValueError):
        IntervalSet().add(5, 1)


def test_contains_is_half_open():
    s = IntervalSet([(0, 5)])
    assert 0 in s
    assert 4.999 in s
    assert 5 not in s
    assert -1 not in s


def test_find():
    s = IntervalSet([(0, 5), (10, 20)])
    assert s.find(12) == (10, 20)
    assert s.find(7) is None


def test_remove_splits_interval():
    s = IntervalSet([(0, 10)])
    s.remove(3, 6)
    assert list(s) == [(0, 3), (6, 10)]


def test_remove_across_several_intervals():
    s = IntervalSet([(0, 4), (6, 8), (10, 14)])
    s.remove(2, 12)
    assert list(s) == [(0, 2), (12, 14)]


def test_remove_touching_range_is_noop():
    s = IntervalSet([(0, 5)])
    s.remove(5, 9)
    s.remove(-3, 0)
    assert list(s) == [(0, 5)]


def test_overlaps_and_covers():
    s = IntervalSet([(0, 5), (10, 15)])
    assert s.overlaps(4, 11)
    assert not s.overlaps(5, 10)
    assert s.covers(1, 5)
    assert not s.covers(4, 11)
    assert s.covers(7, 7)


def test_gaps():
    s = IntervalSet([(2, 4), (6, 8)])
    assert list(s.gaps(0, 10)) == [(0, 2), (4, 6), (8, 10)]
    assert list(s.gaps(2, 4)) == []


def test_total_length():
    assert IntervalSet([(0, 2), (5, 8)]).total_length() == 5
    assert IntervalSet().total_length() == 0


def test_set_algebra():
    a = IntervalSet([(0, 10)])
    b = IntervalSet([(5, 15), (20, 25)])
    assert list(a | b) == [(0, 15), (20, 25)]
    assert list(a & b) == [(5, 10)]
    assert list(a - b) == [(0, 5)]
    assert list(a) == [(0, 10)]


def test_equality_and_copy():
    a = IntervalSet([(0, 3)])
    b = a.copy()
    b.add(7, 9)
    assert a == IntervalSet([(0, 3)])
    assert a != b


def test_works_with_datetimes():
    day = dt.datetime(2024, 5, 1)
    h = dt.timedelta(hours=1)
    busy = IntervalSet([(day + 9 * h, day + 11 * h), (day + 10 * h, day + 12 * h)])
    assert list(busy) == [(day + 9 * h, day + 12 * h)]
    assert busy.total_length() == 3 * h


def test_add_merges_touching_interval_on_the_left():
    s = IntervalSet()
    s.add(5, 9)
    s.add(0, 5)
    assert list(s) == [(0, 9)]
    assert len(s) == 1


def test_normal_form_does_not_depend_on_insertion_order():
    forward = IntervalSet([(0, 2), (2, 4), (4, 6)])
    backward = IntervalSet([(4, 6), (2, 4), (0, 2)])
    assert forward == backward == IntervalSet([(0, 6)])
    s = IntervalSet([(0, 2), (4, 6)])
    s.add(2, 4)
    assert list(s) == [(0, 6)]
