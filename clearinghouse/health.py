"""Liveness and readiness probes (outside the I3 API: no signature, no token)."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, "ok"
    except Exception as exc:
        # A broken persistent connection must not stay cached for the next request.
        with contextlib.suppress(Exception):  # closing a broken connection may fail too
            connection.close()
        return False, type(exc).__name__


def _broker_ok() -> tuple[bool, str]:
    if not settings.REDIS_URL:
        return True, "embedded (tasks run in-process)"
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
        client.ping()
        return True, "ok"
    except Exception as exc:
        return False, type(exc).__name__


def readyz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachable: 200; otherwise 503 in the API's error format."""
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    checks = {"database": db_detail, "broker": broker_detail}
    if db_ok and broker_ok:
        return JsonResponse({"status": "ready", "checks": checks})
    return JsonResponse(
        {"error": {"code": "unavailable", "message": "A dependency is unreachable.", "details": checks}},
        status=503,
    )
