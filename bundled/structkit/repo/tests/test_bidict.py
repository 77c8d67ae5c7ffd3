import copy

import pytest

from structkit import BiDict, ValueDuplicationError


def test_lookup_in_both_directions():
    bd = BiDict(en="English", fr="French")
    assert bd["en"] == "English"
    assert bd.inverse["French"] == "fr"
    assert bd.key_for("English") == "en"
    assert bd.key_for("Klingon", "?") == "?"


def test_inverse_is_live():
    bd = BiDict(a=1)
    inv = bd.inverse
    bd["b"] = 2
    assert inv[2] == "b"
    inv[3] = "c"
    assert bd["c"] == 3
    assert bd.inverse is inv
    assert inv.inverse is bd


def test_setitem_existing_key_releases_old_value():
    bd = BiDict(a=1)
    bd["a"] = 2
    assert dict(bd) == {"a": 2}
    assert dict(bd.inverse) == {2: "a"}
    assert 1 not in bd.inverse


def test_duplicate_value_on_new_key_raises():
    bd = BiDict(a=1)
    with pytest.raises(ValueDuplicationError) as info:
        bd["b"] = 1
    assert info.value.value == 1
    assert info.value.existing_key == "a"
    assert isinstance(info.value, ValueError)
    assert dict(bd) == {"a": 1}


def test_rebinding_key_to_value_of_other_key_raises_and_changes_nothing():
    bd = BiDict(a=1, b=2)
    with pytest.raises(ValueDuplicationError):
        bd["b"] = 1
    assert dict(bd) == {"a": 1, "b": 2}
    assert dict(bd.inverse) == {1: "a", 2: "b"}


def test_forceput_moves_value():
    bd = BiDict(a=1, b=2)
    bd.forceput("b", 1)
    assert dict(bd) == {"b": 1}
    assert dict(bd.inverse) == {1: "b"}


def test_put_overwrite_keyword():
    bd = BiDict(a=1)
    bd.put("z", 1, overwrite=True)
    assert dict(bd) == {"z": 1}
    with pytest.raises(ValueDuplicationError):
        bd.put("y", 1)


def test_delitem_updates_inverse():
    bd = BiDict(a=1, b=2)
    del bd["a"]
    assert 1 not in bd.inverse
    del bd.inverse[2]
    assert len(bd) == 0
    with pytest.raises(KeyError):
        del bd["a"]


def test_pop_and_popitem_keep_both_sides_in_sync():
    bd = BiDict(a=1, b=2)
    assert bd.pop("a") == 1
    assert bd.popitem() == ("b", 2)
    assert len(bd.inverse) == 0


def test_construct_with_duplicate_values_raises():
    with pytest.raises(ValueDuplicationError):
        BiDict([("a", 1), ("b", 1)])


def test_clear_and_len():
    bd = BiDict({"a": 1, "b": 2})
    assert len(bd) == 2 and len(bd.inverse) == 2
    bd.inverse.clear()
    assert len(bd) == 0


def test_equality_with_dict():
    assert BiDict(a=1) == {"a": 1}
    assert BiDict(a=1) != {"a": 2}


def test_copy_method_is_independent():
    bd = BiDict(a=1)
    other = bd.copy()
    other["b"] = 2
    assert dict(bd) == {"a": 1}
    assert dict(other.inverse) == {1: "a", 2: "b"}
    assert 2 not in bd.inverse


def test_copy_module_copy_is_independent():
    bd = BiDict(a=1)
    bd.inverse  # the inverse view is created lazily
    other = copy.copy(bd)
    other["b"] = 2
    del other["a"]
    assert dict(bd) == {"a": 1}
    assert dict(bd.inverse) == {1: "a"}
    assert dict(other.inverse) == {2: "b"}
    assert other.inverse.inverse is other


def test_reassigning_a_key_to_its_current_value_is_a_noop():
    bd = BiDict(a=1, b=2)
    bd["a"] = 1
    bd.inverse[2] = "b"
    assert dict(bd) == {"a": 1, "b": 2}
    assert dict(bd.inverse) == {1: "a", 2: "b"}


def test_update_with_overlapping_pairs():
    bd = BiDict(a=1)
    bd.update({"a": 1, "b": 2})
    assert dict(bd) == {"a": 1, "b": 2}
    assert bd.setdefault("a", 1) == 1
