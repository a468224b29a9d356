"""Idempotency-Key on creating POSTs: a repeat returns the first answer and creates nothing.

The key is claimed by inserting a row before the work starts (a unique constraint decides the race
between simultaneous identical requests: one does the work, the others wait for its answer). The
work itself runs outside that row's transaction, so a request that waits for a partner never
holds a lock. A request that fails with a server error or is throttled releases its key so the
client may retry.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from clearinghouse.models import IdempotencyRecord

from .errors import ApiError, Conflict
from .headers import request_header

HEADER = "Idempotency-Key"
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05


def _request_hash(request: Any) -> str:
    django_request = request._request
    digest = hashlib.sha256()
    digest.update((django_request.method or "").encode() + b"\n")
    # The query string is part of the request: ?mode=delta and ?mode=full are different requests.
    digest.update(django_request.get_full_path().encode() + b"\n")
    digest.update(django_request.body or b"")
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> Response:
    body = bytes(record.response_body) if record.response_body is not None else b"null"
    response = Response(json.loads(body), status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def _existing_answer(*, partner_id: int, key: str, request_hash: str) -> Response:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        record = IdempotencyRecord.objects.filter(partner_id=partner_id, key=key).first()
        if record is None:  # the first request failed and released the key: tell the client to retry
            raise Conflict("idempotency_retry", "The first request with this key failed; send it again.")
        if record.request_hash != request_hash:
            raise Conflict(
                "idempotency_key_reused", "This Idempotency-Key was used with a different request."
            )
        if record.state == IdempotencyRecord.State.COMPLETED:
            return _replay(record)
        if time.monotonic() >= deadline:
            raise Conflict("idempotency_in_progress", "A request with this key is still being processed.")
        time.sleep(POLL_SECONDS)


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a view's post() so an Idempotency-Key makes it safe to repeat."""

    @wraps(handler)
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Response:
        key = request_header(request, HEADER)
        if key is None:
            return handler(self, request, *args, **kwargs)
        if not (1 <= len(key) <= 255) or not key.isascii() or not key.isprintable():
            raise ApiError(
                "invalid_idempotency_key",
                f"{HEADER} must be 1 to 255 printable ASCII characters.",
                status_code=400,
            )
        partner_id = request.user.partner_id
        request_hash = _request_hash(request)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    partner_id=partner_id,
                    key=key,
                    request_hash=request_hash,
                    method=request.method,
                    path=request._request.path[:2048],
                )
        except IntegrityError:
            return _existing_answer(partner_id=partner_id, key=key, request_hash=request_hash)
        try:
            try:
                response = handler(self, request, *args, **kwargs)
            except Exception as exc:
                # A refusal (4xx) is an answer worth replaying; anything unhandled re-raises here.
                response = self.handle_exception(exc)
        except Exception:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 500 or response.status_code == 429:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            state=IdempotencyRecord.State.COMPLETED,
            status_code=response.status_code,
            response_body=json.dumps(response.data, cls=JSONEncoder).encode(),
            response_content_type="application/json",
        )
        return response

    return wrapper
