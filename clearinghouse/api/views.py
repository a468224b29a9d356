"""The base of every I3 API view: audit of writes, and nothing else hidden."""

from __future__ import annotations

from typing import Any

from rest_framework.views import APIView

from clearinghouse.audit import audit_record
from clearinghouse.models import AuditEntry

from .parsers import UnstorableText
from .principal import Principal

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class I3APIView(APIView):
    """One API class per operation: validate input, call a service, serialize output."""

    audit_action: str = ""
    # High-volume operations whose own records are the audit trail (authorization decisions,
    # status updates) switch this off to keep one write per request.
    audit_writes: bool = True

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        # A NUL in the path or the query string reaches no lookup: PostgreSQL holds no such text,
        # so nothing could match, and it would refuse the query rather than find nothing.
        query = request.query_params
        if "\x00" in request._request.path or any(
            "\x00" in key or any("\x00" in value for value in query.getlist(key)) for key in query
        ):
            raise UnstorableText("The request's path or query holds a NUL character (%00).")
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        user = getattr(request, "_user", None)
        if (
            self.audit_writes
            and request.method in _WRITES
            and isinstance(user, Principal)
            and response.status_code < 400
        ):
            audit_record(
                channel=AuditEntry.Channel.API,
                action=self.audit_action or f"{type(self).__name__}.{request.method.lower()}",
                object_type=getattr(response, "audit_object_type", ""),
                object_id=str(getattr(response, "audit_object_id", "")),
                partner_id=user.partner_id,
                user_id=user.user_id,
                status_code=response.status_code,
                details={"path": request.path, "method": request.method},
            )
        return response
