"""The one cache round trip of a signed request: nonce, principal record and rate-limit counter."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from clearinghouse.api.roundtrip import _packed, _thread_connection, round_trip, stored_record
from clearinghouse.api.throttling import Window
from clearinghouse.cache import SharedClientCacheClient

on_redis = pytest.mark.skipif(
    not isinstance(getattr(cache, "_cache", None), SharedClientCacheClient), reason="needs the Redis cache"
)


def _window(key: str) -> Window:
    return Window(key=key, ttl=61, limit=10, ends_at=0.0)


def test_claims_the_nonce_once_and_counts_every_request() -> None:
    cache.set("rt:principal", {"user_id": 7, "partner_id": 3})
    request = {"nonce_key": "rt:nonce:a", "nonce_ttl": 300, "principal_key": "rt:principal"}
    first = round_trip(**request, window=_window("rt:w"))
    again = round_trip(**request, window=_window("rt:w"))
    assert (first.nonce_added, again.nonce_added) == (True, False)
    assert (first.count, again.count) == (1, 2)
    assert stored_record(first) == stored_record(again) == {"user_id": 7, "partner_id": 3}


def test_without_a_limit_nothing_is_counted_and_a_missing_record_is_none() -> None:
    answer = round_trip(nonce_key="rt:nonce:b", nonce_ttl=300, principal_key="rt:absent", window=None)
    assert answer.nonce_added and answer.count is None
    assert answer.stored is None and stored_record(answer) is None


@on_redis
def test_on_redis_the_nonce_and_the_window_expire_and_the_record_travels_as_bytes() -> None:
    cache.set("rt:principal2", {"user_id": 8})
    answer = round_trip(
        nonce_key="rt:nonce:c", nonce_ttl=300, principal_key="rt:principal2", window=_window("rt:w2")
    )
    assert isinstance(answer.stored, bytes) and stored_record(answer) == {"user_id": 8}
    client = cache._cache.get_client(write=True)
    assert 0 < client.ttl(cache.make_key("rt:nonce:c")) <= 300
    assert 0 < client.ttl(cache.make_key("rt:w2")) <= 61
    # A later request in the same window keeps the window's first expiry (EXPIRE ... NX).
    client.expire(cache.make_key("rt:w2"), 30)
    round_trip(nonce_key="rt:nonce:d", nonce_ttl=300, principal_key="rt:principal2", window=_window("rt:w2"))
    assert client.ttl(cache.make_key("rt:w2")) <= 30


@on_redis
def test_on_redis_a_flushed_script_cache_is_loaded_again() -> None:
    cache._cache.get_client(write=True).script_flush()
    answer = round_trip(nonce_key="rt:nonce:e", nonce_ttl=300, principal_key="rt:absent", window=None)
    assert answer.nonce_added


@on_redis
def test_on_redis_a_connection_the_server_dropped_is_reconnected() -> None:
    import redis
    from django.conf import settings

    round_trip(nonce_key="rt:nonce:f", nonce_ttl=300, principal_key="rt:absent", window=None)
    connection = _thread_connection(cache._cache.get_client(write=True).connection_pool)
    host, port = connection._sock.getsockname()[:2]  # the round trip's connection, as the server sees it
    killer = redis.Redis.from_url(settings.REDIS_URL)
    assert killer.client_kill_filter(addr=f"{host}:{port}") == 1
    killer.close()
    answer = round_trip(nonce_key="rt:nonce:g", nonce_ttl=300, principal_key="rt:absent", window=None)
    assert answer.nonce_added


def test_the_script_call_is_packed_as_redis_packs_it() -> None:
    from redis.connection import PythonRespSerializer

    from clearinghouse.api.roundtrip import _SHA

    keys, args = ["ch:1:nonce:é", "ch:1:principal:4"], [300, 61]
    serializer = PythonRespSerializer(10**6, lambda v: v if isinstance(v, bytes) else str(v).encode())
    expected = b"".join(serializer.pack("EVALSHA", _SHA, len(keys), *keys, *args))
    assert _packed(keys, args) == expected


@on_redis
def test_on_redis_each_thread_keeps_its_own_connection() -> None:
    import threading

    pool = cache._cache.get_client(write=True).connection_pool
    mine = _thread_connection(pool)
    assert _thread_connection(pool) is mine
    seen = []
    thread = threading.Thread(target=lambda: seen.append(_thread_connection(pool)))
    thread.start()
    thread.join()
    assert seen and seen[0] is not mine
    seen[0].disconnect()
