"""Request id: accepted from X-Request-ID when sane, generated otherwise, echoed in the response."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .context import Actor, actor_var, new_request_id, request_id_var

_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SANE.match(incoming) else new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        actor_token = actor_var.set(Actor(label="anonymous"))
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
            actor_var.reset(actor_token)
        response["X-Request-ID"] = request_id
        return response


class ApiUnavailableMiddleware:
    """A database outage met outside a DRF view (middleware, Django's own views) under /api/
    answers 503 in the error format, like the views do, instead of a server error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.db import InterfaceError, OperationalError

        from .api.errors import UNAVAILABLE_MESSAGE, json_error

        if request.path.startswith("/api/") and isinstance(exception, (OperationalError, InterfaceError)):
            response = json_error(503, "unavailable", UNAVAILABLE_MESSAGE)
            response["Retry-After"] = "5"
            return response
        return None
