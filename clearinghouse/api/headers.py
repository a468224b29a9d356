"""A request header read straight from the WSGI environ.

`request.headers` builds a case-insensitive view of every header the first time it is read: a
walk over the whole environ, a name conversion per key. The API's hot paths read a handful of
headers by name, so they look up the environ key the server stored each one under instead
(`X-I3-Nonce` is `HTTP_X_I3_NONCE`); the answer is the same.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=64)
def environ_key(name: str) -> str:
    """The WSGI environ key of an HTTP header (Content-Type and Content-Length have no prefix)."""
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


def request_header(request: Any, name: str, default: Any = None) -> Any:
    """The header's value on a Django or DRF request, or `default` when it was not sent."""
    return getattr(request, "_request", request).META.get(environ_key(name), default)
