"""The API's one error format: {"error": {"code", "message", "details"}} with the right status."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from clearinghouse.errors import DomainError, Locked


class ApiError(exceptions.APIException):
    """A business error with a code, a message and optional details."""

    def __init__(
        self, code: str, message: str, *, status_code: int = 422, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}


class Conflict(ApiError):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(code, message, status_code=409, details=details)


class NotFound(ApiError):
    def __init__(self, message: str = "Not found.", code: str = "not_found") -> None:
        super().__init__(code, message, status_code=404)


class Unprocessable(ApiError):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(code, message, status_code=422, details=details)


UNAVAILABLE_MESSAGE = "The hub cannot reach its database right now; retry shortly."
TOO_BIG_MESSAGE = "The request body is larger than the hub accepts (I3_MAX_BODY_BYTES)."


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


_DEFAULT_CODES = {
    400: "invalid_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
    503: "unavailable",
}


def _flatten_detail(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(k): _flatten_detail(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten_detail(v) for v in detail]
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler producing the one error format."""
    if isinstance(exc, DomainError):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Locked) else {}
        set_rollback()
        return Response(
            error_body(exc.code, exc.message, exc.details), status=exc.status_code, headers=headers
        )
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable or restarting: the request may be retried, it is no bug.
        set_rollback()
        return Response(
            error_body("unavailable", UNAVAILABLE_MESSAGE), status=503, headers={"Retry-After": "5"}
        )
    if isinstance(exc, RequestDataTooBig):
        set_rollback()
        return Response(error_body("payload_too_large", TOO_BIG_MESSAGE), status=413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.messages)
    if not isinstance(exc, exceptions.APIException):
        return None

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))  # type: ignore[attr-defined]

    status_code = exc.status_code
    if isinstance(exc, ApiError):
        body = error_body(exc.code, exc.message, exc.details)
    elif isinstance(exc, exceptions.ValidationError):
        body = error_body(
            "validation_error", "The request is not valid.", {"fields": _flatten_detail(exc.detail)}
        )
    else:
        detail = exc.detail
        code = _DEFAULT_CODES.get(status_code, "error")
        if isinstance(detail, str) and getattr(detail, "code", None) not in (None, "error", "invalid"):
            code = str(detail.code)
        message = str(detail) if not isinstance(detail, (list, dict)) else "The request failed."
        details = {} if isinstance(detail, str) else {"detail": _flatten_detail(detail)}
        body = error_body(code, message, details)
    set_rollback()
    return Response(body, status=status_code, headers=headers)


def json_error(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def _is_api(request: Any) -> bool:
    return request.path.startswith("/api/")


# Django's own error views, answering in the API's format under /api/ and as pages elsewhere.
def handler404(request, exception=None):  # type: ignore[no-untyped-def]
    if _is_api(request):
        return json_error(status.HTTP_404_NOT_FOUND, "not_found", "No such resource.")
    return defaults.page_not_found(request, exception)


def handler500(request):  # type: ignore[no-untyped-def]
    if _is_api(request):
        return json_error(500, "server_error", "The hub failed to process the request; it has been logged.")
    return defaults.server_error(request)


def handler400(request, exception=None):  # type: ignore[no-untyped-def]
    if _is_api(request) and isinstance(exception, RequestDataTooBig):
        return json_error(413, "payload_too_large", TOO_BIG_MESSAGE)
    if _is_api(request):
        return json_error(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):  # type: ignore[no-untyped-def]
    if _is_api(request):
        return json_error(403, "forbidden", "Forbidden.")
    return defaults.permission_denied(request, exception)
