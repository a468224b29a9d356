"""Request id, API error answers for outages, and the browser-side middleware the I3 API skips."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware
from django.http import HttpRequest, HttpResponse

from .context import Actor, actor_var, new_request_id, request_id_var

API_PREFIX = "/api/"

_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
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


class _OutsideApi:
    """Middleware of the browser side (sessions, the logged-in user, messages) that the I3 API never
    uses: its requests carry a bearer token and a signature, never a cookie. API requests pass
    straight through; everything else (the admin, the finance pages) gets the middleware as Django
    ships it. Subclasses of Django's own classes, so the admin's checks of its required middleware
    still find them. (CSRF stays Django's: its views are exempt on the API, and the deployment
    checks look for it by name.)"""

    get_response: Callable[[HttpRequest], Any]

    def __call__(self, request: HttpRequest) -> Any:
        if request.path_info.startswith(API_PREFIX) and not getattr(self, "async_mode", False):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


# The middleware classes above whose API requests pass straight through (the handler's API chain
# leaves them out altogether, clearinghouse/handler.py).
PASSES_API_THROUGH = _OutsideApi


class SessionMiddleware(_OutsideApi, _SessionMiddleware):
    pass


class AuthenticationMiddleware(_OutsideApi, _AuthenticationMiddleware):
    pass


class MessageMiddleware(_OutsideApi, _MessageMiddleware):
    pass
