"""The signed HTTP client the hub uses to reach partners: the one patch point for outbound HTTP."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from clearinghouse.lib import signing

_local = threading.local()
# A partner's answer is a short JSON document; anything longer is not read (a misbehaving or hostile
# endpoint must not make a worker buffer gigabytes).
MAX_RESPONSE_BYTES = 256 * 1024
# How much of an error answer is kept for the operator.
ERROR_SNIPPET_BYTES = 300


@dataclass(frozen=True)
class PartnerResponse:
    """A 2xx answer: its status, the parsed JSON body (None when empty, not JSON or too large), and a
    note for the operator when the body could not be used."""

    status_code: int
    body: Any
    note: str = ""
    # Lower-cased header names, so a caller can verify a partner's signed answer.
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""


class DeliveryFailed(Exception):
    """The partner could not be reached, timed out, or answered with an error status."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retryable: bool = True, timed_out: bool = False
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable
        self.timed_out = timed_out


def _client() -> httpx.Client:
    # One pooled client per process and thread: Celery forks after import, and httpx clients are
    # neither fork- nor thread-safe. Timeouts are passed per request, so a settings change applies
    # to a client that already exists.
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "pid", None) != os.getpid():
        client = httpx.Client(
            follow_redirects=False,
            # Compressed answers could expand far beyond what the size cap reads off the wire.
            headers={"User-Agent": "clearinghouse-i3/1", "Accept-Encoding": "identity"},
        )
        _local.client = client
        _local.pid = os.getpid()
    return client


def encode(payload: Any) -> bytes:
    """Compact JSON; decimals and datetimes as strings, the way the outbox stores payloads."""
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def _retryable_status(code: int) -> bool:
    return code in (408, 425, 429) or code >= 500


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, and PostgreSQL refuses to store them.
    raise ValueError(f"{name} is not valid JSON")


def parse_json(content: bytes) -> Any:
    """The JSON value of a body; ValueError when it is not strict JSON."""
    return json.loads(content, parse_constant=_refuse_constant)


def _read_capped(response: httpx.Response, limit: int, deadline: float, budget: float) -> tuple[bytes, bool]:
    """Read at most `limit` bytes of the body before `deadline`; (content, whether more was sent).

    httpx's read timeout bounds each read, not the whole body: a partner that trickles a byte at a
    time would otherwise hold the worker, and the channel's lease, indefinitely.
    """
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
        if time.monotonic() > deadline:
            raise DeliveryFailed(f"timeout: the answer took longer than {budget:g} s", timed_out=True)
    return b"".join(chunks), False


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
    """POST a JSON payload signed with the partner's secret, as the hub signs every delivery.

    Without `timeout`, connecting takes at most ROUTING_CONNECT_TIMEOUT, each read at most
    ROUTING_READ_TIMEOUT, and the answer must be complete within their sum. With `timeout`
    (synchronous calls that have a deadline), connecting takes at most the smaller of the two, each
    read at most `timeout`, and the answer must be complete within `timeout`. Raises DeliveryFailed
    for a timeout, a network error or a non-2xx answer (`retryable` False for a 4xx other than 408,
    425 and 429, and for a redirect, which is not followed).
    """
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-I3-Message-Id": message_id,
        "X-I3-Event-Type": event_type,
        "X-I3-Key-Id": key_id,
        **signing.signed_headers(secret, "POST", url, body),
    }
    connect = float(settings.ROUTING_CONNECT_TIMEOUT)
    read = float(settings.ROUTING_READ_TIMEOUT)
    if timeout:
        connect, read = min(timeout, connect), timeout
        budget = timeout
    else:
        budget = connect + read
    deadline = time.monotonic() + budget
    request_timeout = httpx.Timeout(read, connect=connect, pool=connect)
    try:
        with _client().stream(
            "POST", url, content=body, headers=headers, timeout=request_timeout
        ) as response:
            status = response.status_code
            if not 200 <= status < 300:
                snippet, _ = _read_capped(response, ERROR_SNIPPET_BYTES, deadline, budget)
                text = snippet.decode("utf-8", errors="replace")
                raise DeliveryFailed(
                    f"partner answered HTTP {status}: {text}",
                    status_code=status,
                    retryable=_retryable_status(status),
                )
            content, too_large = _read_capped(response, MAX_RESPONSE_BYTES, deadline, budget)
            answer_headers = {k.lower(): v for k, v in response.headers.items()}
    except httpx.TimeoutException as exc:
        raise DeliveryFailed(f"timeout: {type(exc).__name__}", timed_out=True) from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"connection failed: {type(exc).__name__}: {exc}"[:500]) from None
    if too_large:
        note = f"answer longer than {MAX_RESPONSE_BYTES} bytes, not kept"
        return PartnerResponse(status, None, note, answer_headers)
    if not content.strip():
        return PartnerResponse(status, None, headers=answer_headers, raw=content)
    try:
        return PartnerResponse(status, parse_json(content), headers=answer_headers, raw=content)
    except (ValueError, RecursionError):
        return PartnerResponse(status, None, "answer is not JSON, not kept", answer_headers, content)
