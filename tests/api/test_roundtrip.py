"""The one cache round trip of a signed request: nonce, principal record and rate-limit counter."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from clearinghouse.api.roundtrip import round_trip, stored_record
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
    pool = cache._cache.get_client(write=True).connection_pool
    connection = pool.get_connection()  # the one the round trip used, back in the pool
    connection.send_command("CLIENT", "ID")
    client_id = connection.read_response()
    pool.release(connection)
    killer = redis.Redis.from_url(settings.REDIS_URL)
    assert killer.client_kill_filter(_id=client_id) == 1
    killer.close()
    answer = round_trip(nonce_key="rt:nonce:g", nonce_ttl=300, principal_key="rt:absent", window=None)
    assert answer.nonce_added
