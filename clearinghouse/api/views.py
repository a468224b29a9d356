"""The base of every I3 API view: audit of writes, and nothing else hidden."""

from __future__ import annotations

from typing import Any

from rest_framework.views import APIView

from clearinghouse.audit import audit_record
from clearinghouse.models import AuditEntry

from .principal import Principal

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class I3APIView(APIView):
    """One API class per operation: validate input, call a service, serialize output."""

    audit_action: str = ""
    # High-volume operations whose own records are the audit trail (authorization decisions,
    # status updates) switch this off to keep one write per request.
    audit_writes: bool = True

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
