"""The bodies a worker keeps: least recently used first out, within a byte budget that empty
bodies count against too."""

from __future__ import annotations

from siteselect.bytes_cache import BytesCache


def test_the_least_recently_used_body_goes_first_once_over_the_budget():
    cache = BytesCache(max_bytes=3 * (100 + BytesCache.ENTRY_BYTES))
    for key in "abc":
        cache.put(key, b"x" * 100)
    assert cache.get("a") == b"x" * 100  # used again: now the latest
    cache.put("d", b"y" * 100)
    assert "b" not in cache and all(key in cache for key in "acd")
    assert cache.size == 3 * (100 + BytesCache.ENTRY_BYTES) <= cache.max_bytes


def test_empty_bodies_count_against_the_budget():
    cache = BytesCache(max_bytes=10 * BytesCache.ENTRY_BYTES)
    for n in range(1000):
        cache.put(n, b"")
    assert len(cache) == 10 and cache.get(999) == b"" and cache.get(0) is None


def test_a_body_kept_already_is_kept_once_and_one_over_the_budget_still_answers():
    cache = BytesCache(max_bytes=1000)
    assert cache.put("k", b"first") == b"first"
    cache.put("k", b"second")
    assert cache.get("k") == b"first" and cache.size == len(b"first") + BytesCache.ENTRY_BYTES
    big = b"z" * 5000
    assert cache.put("big", big) is big and cache.get("big") == big and len(cache) == 1
