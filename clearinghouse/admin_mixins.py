"""Admin helpers shared by every app: audit of admin writes, read-only ingested records."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from clearinghouse.audit import audit_record
from clearinghouse.models import AuditEntry


class AuditedAdmin(admin.ModelAdmin):
    """Every add, change and delete made in the admin lands in the audit log."""

    def _audit(self, request: Any, obj: Any, action: str, details: dict | None = None) -> None:
        audit_record(
            channel=AuditEntry.Channel.ADMIN,
            action=f"admin.{action}",
            obj=obj,
            user_id=request.user.pk,
            partner_id=getattr(obj, "partner_id", None),
            details=details or {},
        )

    def log_addition(self, request: Any, obj: Any, message: Any) -> Any:
        self._audit(request, obj, "add")
        return super().log_addition(request, obj, message)

    def log_change(self, request: Any, obj: Any, message: Any) -> Any:
        self._audit(request, obj, "change", {"message": str(message)[:1000]})
        return super().log_change(request, obj, message)

    def log_deletions(self, request: Any, queryset: Any) -> Any:
        for obj in queryset:
            self._audit(request, obj, "delete", {"repr": str(obj)[:200]})
        return super().log_deletions(request, queryset)


class ReadOnlyAdmin(AuditedAdmin):
    """Records that partners sent or the hub computed: staff look, they do not edit."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
