"""A URL conf with probe views that exercise the plumbing (idempotency, errors, throttling)."""

from __future__ import annotations

import threading

from django.urls import include, path
from rest_framework.response import Response

from clearinghouse.api.idempotency import idempotent
from clearinghouse.api.views import I3APIView
from clearinghouse.audit import audit_record
from clearinghouse.errors import RuleViolation

calls = {"count": 0}
_lock = threading.Lock()


class CreateProbe(I3APIView):
    @idempotent
    def post(self, request):
        with _lock:
            calls["count"] += 1
        entry = audit_record(action="probe.create", details={"body": request.data})
        if isinstance(request.data, dict) and request.data.get("fail"):
            raise RuleViolation("probe_refused", "The probe refuses this.", {"why": "asked to"})
        return Response({"id": entry.pk, "echo": request.data}, status=201)


class BoomProbe(I3APIView):
    @idempotent
    def post(self, request):
        raise RuntimeError("boom")


class ThrottledProbe(I3APIView):
    throttle_scope = "probe"

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("api/i3/v1/probe/create", CreateProbe.as_view()),
    path("api/i3/v1/probe/boom", BoomProbe.as_view()),
    path("api/i3/v1/probe/throttled", ThrottledProbe.as_view()),
    path("", include("clearinghouse.urls")),
]
