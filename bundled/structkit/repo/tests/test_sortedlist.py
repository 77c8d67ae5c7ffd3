import copy

import pytest

from structkit import SortedList


def test_sorted_on_construction():
    assert list(SortedList([5, 1, 4, 2])) == [1, 2, 4, 5]
    assert list(SortedList()) == []


def test_add_keeps_order():
    sl = SortedList([10, 30])
    for value in (20, 5, 40, 30):
        sl.add(value)
    assert sl == [5, 10, 20, 30, 30, 40]


def test_add_equal_keys_keeps_insertion_order():
    sl = SortedList(key=len)
    for word in ("bb", "a", "cc", "dd", "e"):
        sl.add(word)
    assert list(sl) == ["a", "e", "bb", "cc", "dd"]


def test_remove_and_discard():
    sl = SortedList([3, 1, 2, 2])
    sl.remove(2)
    assert sl == [1, 2, 3]
    assert sl.discard(3) is True
    assert sl.discard(99) is False
    assert sl == [1, 2]


def test_remove_missing_raises():
    sl = SortedList([1, 2, 3])
    with pytest.raises(ValueError):
        sl.remove(4)


def test_contains():
    sl = SortedList([1, 3, 5])
    assert 3 in sl
    assert 4 not in sl
    assert 0 not in sl and 6 not in sl


def test_index_and_count():
    sl = SortedList([4, 1, 4, 2, 4])
    assert sl.index(4) == 2
    assert sl.count(4) == 3
    assert sl.count(7) == 0
    with pytest.raises(ValueError):
        sl.index(3)


def test_contains_compares_values_not_keys():
    sl = SortedList(["Apple", "banana"], key=str.lower)
    assert "Apple" in sl
    assert "apple" not in sl
    assert sl.count("APPLE") == 0


def test_remove_value_that_only_shares_a_key_raises():
    sl = SortedList(["Apple", "banana"], key=str.lower)
    with pytest.raises(ValueError):
        sl.remove("apple")
    assert sl.discard("BANANA") is False
    assert list(sl) == ["Apple", "banana"]


@pytest.mark.parametrize(
    "inclusive, expected",
    [
        ((True, True), [2, 3, 4]),
        ((False, True), [3, 4]),
        ((True, False), [2, 3]),
        ((False, False), [3]),
    ],
    ids=["closed", "left-open", "right-open", "open"],
)
def test_irange_inclusive_variants(inclusive, expected):
    sl = SortedList([1, 2, 3, 4, 5])
    assert list(sl.irange(2, 4, inclusive=inclusive)) == expected


def test_irange_unbounded_and_reverse():
    sl = SortedList([1, 2, 3, 4, 5])
    assert list(sl.irange(maximum=2)) == [1, 2]
    assert list(sl.irange(minimum=4)) == [4, 5]
    assert list(sl.irange(2, 4, reverse=True)) == [4, 3, 2]
    assert list(sl.irange(9, 12)) == []


def test_irange_with_key_uses_key_bounds():
    people = SortedList([("bob", 31), ("ada", 36), ("cy", 25)], key=lambda p: p[1])
    assert list(people.irange(30, 40)) == [("bob", 31), ("ada", 36)]


def test_bisect():
    sl = SortedList([1, 2, 2, 3])
    assert sl.bisect_left(2) == 1
    assert sl.bisect_right(2) == 3


def test_pop_getitem_and_delitem():
    sl = SortedList([3, 1, 2, 5, 4])
    assert sl[0] == 1 and sl[-1] == 5
    assert sl[1:3] == [2, 3]
    assert sl.pop() == 5
    assert sl.pop(0) == 1
    del sl[0]
    assert sl == [3, 4]
    sl.add(1)
    assert sl == [1, 3, 4]
    with pytest.raises(IndexError):
        SortedList().pop()


def test_update_small_and_large():
    sl = SortedList([5, 1])
    sl.update([3])
    sl.update([9, 0, 2, 7])
    assert sl == [0, 1, 2, 3, 5, 7, 9]
    assert sl.bisect_left(4) == 4


def test_copy_is_independent():
    sl = SortedList([2, 1], key=lambda x: -x)
    for other in (sl.copy(), copy.copy(sl)):
        other.add(3)
        assert list(other) == [3, 2, 1]
    assert list(sl) == [2, 1]
    assert sl.copy().key is sl.key


def test_contains_finds_any_item_with_equal_key():
    sl = SortedList(["b", "B", "a"], key=str.lower)
    assert list(sl) == ["a", "b", "B"]
    assert "B" in sl
    assert sl.index("B") == 2


def test_remove_item_that_is_not_first_among_equal_keys():
    sl = SortedList([(1, "x"), (1, "y"), (1, "z"), (0, "w")], key=lambda p: p[0])
    sl.remove((1, "z"))
    assert list(sl) == [(0, "w"), (1, "x"), (1, "y")]
    assert sl.discard((1, "y")) is True
    assert list(sl) == [(0, "w"), (1, "x")]
