import copy

import pytest

from structkit import CacheStats, LRUCache


class FakeClock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def test_put_and_get():
    cache = LRUCache(3)
    cache.put("a", 1)
    cache["b"] = 2
    assert cache.get("a") == 1
    assert cache["b"] == 2
    assert len(cache) == 2


def test_get_missing_returns_default():
    cache = LRUCache(2)
    assert cache.get("nope") is None
    assert cache.get("nope", 42) == 42


def test_getitem_missing_raises_keyerror():
    cache = LRUCache(2)
    with pytest.raises(KeyError):
        cache["nope"]


def test_evicts_least_recently_used():
    cache = LRUCache(2)
    cache["a"] = 1
    cache["b"] = 2
    cache["c"] = 3
    assert "a" not in cache
    assert cache.keys() == ["b", "c"]


def test_get_marks_entry_most_recently_used():
    cache = LRUCache(2)
    cache["a"] = 1
    cache["b"] = 2
    assert cache.get("a") == 1
    cache["c"] = 3
    assert cache.keys() == ["a", "c"]


def test_peek_and_contains_do_not_touch_recency():
    cache = LRUCache(2)
    cache["a"] = 1
    cache["b"] = 2
    assert cache.peek("a") == 1
    assert "a" in cache
    cache["c"] = 3
    assert cache.keys() == ["b", "c"]
    assert cache.stats().hits == 0


def test_put_existing_key_does_not_evict():
    evicted = []
    cache = LRUCache(2, on_evict=lambda k, v: evicted.append(k))
    cache["a"] = 1
    cache["b"] = 2
    cache["a"] = 10
    assert evicted == []
    assert cache.items() == [("b", 2), ("a", 10)]


def test_on_evict_callback_receives_key_and_value():
    evicted = []
    cache = LRUCache(1, on_evict=lambda k, v: evicted.append((k, v)))
    cache["a"] = 1
    cache["b"] = 2
    cache["c"] = 3
    assert evicted == [("a", 1), ("b", 2)]


def test_entry_expires_exactly_at_ttl():
    clock = FakeClock()
    cache = LRUCache(4, ttl=10, clock=clock)
    cache["a"] = 1
    clock.advance(9.5)
    assert cache.peek("a") == 1
    clock.advance(0.5)
    assert "a" not in cache
    assert cache.get("a", "gone") == "gone"


def test_put_existing_key_restarts_ttl():
    clock = FakeClock()
    cache = LRUCache(4, ttl=10, clock=clock)
    cache["a"] = 1
    clock.advance(8)
    cache["a"] = 2
    clock.advance(8)
    assert cache.peek("a") == 2
    clock.advance(2)
    assert "a" not in cache


def test_expired_entries_are_dropped_before_evicting_live_ones():
    clock = FakeClock()
    evicted = []
    cache = LRUCache(2, ttl=5, clock=clock, on_evict=lambda k, v: evicted.append(k))
    cache["old"] = 1
    clock.advance(3)
    cache["new"] = 2
    clock.advance(3)  # "old" has expired, "new" has not
    cache["newer"] = 3
    assert evicted == []
    assert cache.keys() == ["new", "newer"]


def test_len_and_expire_ignore_expired_entries():
    clock = FakeClock()
    cache = LRUCache(4, ttl=5, clock=clock)
    cache["a"] = 1
    clock.advance(2)
    cache["b"] = 2
    clock.advance(4)
    assert len(cache) == 1
    assert cache.expire() == 1
    assert cache.keys() == ["b"]


def test_pop_and_delete():
    cache = LRUCache(3)
    cache["a"] = 1
    cache["b"] = 2
    assert cache.pop("a") == 1
    assert cache.pop("a", None) is None
    del cache["b"]
    assert len(cache) == 0
    with pytest.raises(KeyError):
        cache.pop("zzz")
    with pytest.raises(KeyError):
        del cache["zzz"]


def test_stats_count_hits_misses_and_evictions():
    cache = LRUCache(1)
    cache["a"] = 1
    cache.get("a")
    cache.get("b")
    cache["b"] = 2
    assert cache.stats() == CacheStats(hits=1, misses=1, evictions=1, currsize=1, maxsize=1)


@pytest.mark.parametrize(
    "kwargs",
    [{"maxsize": 0}, {"maxsize": -3}, {"maxsize": 2.5}, {"maxsize": True}, {"maxsize": 2, "ttl": 0}],
    ids=["zero", "negative", "float", "bool", "zero-ttl"],
)
def test_invalid_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        LRUCache(**kwargs)


def test_clear_keeps_settings():
    cache = LRUCache(2, ttl=3)
    cache["a"] = 1
    cache.clear()
    assert len(cache) == 0
    assert cache.maxsize == 2 and cache.ttl == 3


def test_copy_method_is_independent():
    cache = LRUCache(3)
    cache["a"] = 1
    cache["b"] = 2
    other = cache.copy()
    other["c"] = 3
    other.get("a")
    assert cache.keys() == ["a", "b"]
    assert other.keys() == ["b", "c", "a"]


def test_copy_module_copy_is_independent():
    cache = LRUCache(2)
    cache["a"] = 1
    cache["b"] = 2
    other = copy.copy(cache)
    other["c"] = 3
    assert cache.items() == [("a", 1), ("b", 2)]
    assert other.items() == [("b", 2), ("c", 3)]
    assert other.maxsize == 2


def test_get_does_not_extend_ttl():
    clock = FakeClock()
    cache = LRUCache(4, ttl=10, clock=clock)
    cache["a"] = 1
    clock.advance(6)
    assert cache.get("a") == 1
    clock.advance(4)
    assert "a" not in cache
    assert cache.get("a") is None


def test_frequently_read_entry_still_expires_but_stays_most_recent():
    clock = FakeClock()
    cache = LRUCache(2, ttl=10, clock=clock)
    cache["a"] = 1
    clock.advance(1)
    cache["b"] = 2
    for _ in range(4):
        clock.advance(2)
        assert cache["a"] == 1
    assert cache.keys() == ["b", "a"]
    clock.advance(1)  # t=10: "a" expires, "b" (written at t=1) is still alive
    assert cache.keys() == ["b"]
    assert cache.get("a") is None
