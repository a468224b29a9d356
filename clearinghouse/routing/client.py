"""The signed HTTP client the hub uses to reach partners: the one patch point for outbound HTTP."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from rest_framework.utils.encoders import JSONEncoder

from clearinghouse.lib import signing

_local = threading.local()
MAX_RESPONSE_BYTES = 256 * 1024


@dataclass(frozen=True)
class PartnerResponse:
    status_code: int
    body: Any  # parsed JSON, or None


class DeliveryFailed(Exception):
    """The partner could not be reached, timed out, or answered with an error status."""

    def __init__(self, message: str, *, status_code: int | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable


def _client() -> httpx.Client:
    # One pooled client per process and thread: Celery forks after import, and httpx clients are
    # neither fork- nor thread-safe.
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "pid", None) != os.getpid():
        client = httpx.Client(
            timeout=httpx.Timeout(settings.ROUTING_READ_TIMEOUT, connect=settings.ROUTING_CONNECT_TIMEOUT),
            follow_redirects=False,
            headers={"User-Agent": "clearinghouse-i3/1"},
        )
        _local.client = client
        _local.pid = os.getpid()
    return client


def encode(payload: Any) -> bytes:
    return json.dumps(payload, cls=JSONEncoder, separators=(",", ":")).encode()


def _retryable_status(code: int) -> bool:
    return code in (408, 425, 429) or code >= 500


def signed_post(
    *,
    url: str,
    payload: Any,
    secret: str,
    key_id: str,
    message_id: str,
    event_type: str,
    timeout: float | None = None,
) -> PartnerResponse:
    """POST a JSON payload signed with the partner's secret, as the hub signs every delivery."""
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "X-I3-Message-Id": message_id,
        "X-I3-Event-Type": event_type,
        "X-I3-Key-Id": key_id,
        **signing.signed_headers(secret, "POST", url, body),
    }
    request_timeout = (
        httpx.Timeout(timeout, connect=min(timeout, settings.ROUTING_CONNECT_TIMEOUT)) if timeout else None
    )
    try:
        if request_timeout is not None:
            response = _client().post(url, content=body, headers=headers, timeout=request_timeout)
        else:
            response = _client().post(url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise DeliveryFailed(f"timeout: {type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"connection failed: {type(exc).__name__}: {exc}"[:500]) from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(
            f"partner answered HTTP {response.status_code}: {response.text[:300]}",
            status_code=response.status_code,
            retryable=_retryable_status(response.status_code),
        )
    parsed: Any = None
    content = response.content[:MAX_RESPONSE_BYTES]
    if content.strip():
        try:
            parsed = json.loads(content)
        except ValueError:
            parsed = None
    return PartnerResponse(status_code=response.status_code, body=parsed)
