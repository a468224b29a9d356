"""One cache round trip per authenticated request: claim the nonce, check the principal, count the
request against its rate limit.

A signed request needs three things of the cache: its nonce claimed (replay protection), its
principal confirmed current (a suspension or a new secret invalidates it at once), and its rate
limit counter incremented. On Redis they travel together as one script call (one command to send,
one reply to read: a pipeline of four commands cost several times the CPU on the hub's side); any
other cache (the local-memory one of the embedded mode) gets the same operations one after the
other. When the cache cannot be reached the caller falls back on the database (nonces, principal)
and lets the request through the limiter, as each of those modules does on its own.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from clearinghouse.cache import SharedClientCacheClient

from .throttling import Window, count_in_window

# KEYS: the nonce, the principal, and (when a limit applies) the window's counter.
# ARGV: the nonce's lifetime, the counter's lifetime. EXPIRE ... NX as the limiter sets it alone
# (count_in_window): the first increment of a window starts its clock. Redis >= 7.
_SCRIPT = """
local added = redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) and 1 or 0
local stored = redis.call('GET', KEYS[2])
local count = -1
if #KEYS > 2 then
  count = redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[2], 'NX')
end
return {added, count, stored}
"""

_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)


@dataclass(frozen=True)
class RoundTrip:
    nonce_added: bool
    # The principal record as the cache stores it (serialized), None when it holds nothing. Compared
    # as bytes with the last one this process confirmed, so the usual answer is never deserialized.
    stored: bytes | None
    count: int | None  # the request's number in its rate-limit window (None: no limit applies)
    # On a cache other than Redis, the record itself (it stores objects, not bytes).
    record: dict[str, Any] | None = None


def stored_record(answer: RoundTrip) -> dict[str, Any] | None:
    """The principal record the cache held, deserialized."""
    if answer.record is not None or answer.stored is None:
        return answer.record
    return cache._cache._serializer.loads(answer.stored)  # type: ignore[attr-defined]


_SHA_BYTES = _SHA.encode()
_SCRIPT_LOAD = b"*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$%d\r\n%s\r\n" % (len(_SCRIPT), _SCRIPT.encode())

# Each thread's own connection to the cache's server, for the script only.
_own = threading.local()


def _forget_connections() -> None:
    global _own
    _own = threading.local()  # a forked child must not share its parent's sockets


os.register_at_fork(after_in_child=_forget_connections)


def _thread_connection(pool: Any) -> Any:
    """This thread's connection, made from the cache's pool (its address, timeouts, credentials) and
    kept: checking a connection out of the pool and back per request (a readiness poll of the socket,
    the pool's lock, its metrics) cost more CPU than the script call. A pool replaced (settings
    changed) gets a new connection."""
    own = _own.__dict__
    connection = own.get("connection")
    if connection is None or own["pool"] is not pool:
        if connection is not None:
            connection.disconnect()
        connection = pool.make_connection()
        own.update(connection=connection, pool=pool)
    return connection


def _packed(keys: list[str], args: list[int]) -> bytes:
    """EVALSHA with its keys and arguments in the Redis protocol (RESP)."""
    parts = [b"EVALSHA", _SHA_BYTES, b"%d" % len(keys)]
    parts += [key.encode() for key in keys]
    parts += [b"%d" % arg for arg in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)


def _run_script(client: Any, keys: list[str], args: list[int]) -> Any:
    """EVALSHA sent straight on the thread's own connection: redis-py's command path (argument
    inspection, retry closures, metrics, the pool) costs more CPU than the call itself. What that
    path gives is kept: a server that lacks the script (restarted, flushed) gets it loaded, and a
    connection the server dropped is reconnected once before the error goes to the caller."""
    connection = _thread_connection(client.connection_pool)
    command = _packed(keys, args)
    for attempt in range(3):
        try:
            connection.send_packed_command((command,), check_health=False)
            return connection.read_response()
        except NoScriptError:
            connection.send_packed_command((_SCRIPT_LOAD,), check_health=False)
            connection.read_response()
        except (RedisConnectionError, RedisTimeoutError):
            connection.disconnect()
            if attempt:
                raise
    raise RedisConnectionError("the round-trip script could not be run")


def round_trip(*, nonce_key: str, nonce_ttl: int, principal_key: str, window: Window | None) -> RoundTrip:
    """Raises whatever the cache raises when it cannot be reached."""
    backend = caches[DEFAULT_CACHE_ALIAS]  # one lookup of the thread's backend, not one per use
    client = getattr(backend, "_cache", None)
    if not isinstance(client, SharedClientCacheClient):
        added = bool(backend.add(nonce_key, 1, timeout=nonce_ttl))
        record = backend.get(principal_key)
        count = count_in_window(window) if window else None
        return RoundTrip(added, None, count, record)
    make_key = backend.make_key
    keys = [make_key(nonce_key), make_key(principal_key)]
    args = [nonce_ttl]
    if window:
        keys.append(make_key(window.key))
        args.append(window.ttl)
    added, count, stored = _run_script(client.get_client(keys[0], write=True), keys, args)
    return RoundTrip(bool(added), stored, int(count) if window else None)
