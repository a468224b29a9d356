from __future__ import annotations

from django.contrib import admin

from .admin_mixins import ReadOnlyAdmin
from .models import AuditEntry, IdempotencyRecord


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "channel",
        "action",
        "actor_label",
        "partner_id",
        "object_type",
        "object_id",
        "request_id",
    )
    list_filter = ("channel", "action")
    search_fields = ("request_id", "object_id", "actor_label", "action")
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_select_related = ("actor_user",)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "partner_id", "key", "method", "path", "state", "status_code")
    list_filter = ("state", "method")
    search_fields = ("key", "path")
    show_full_result_count = False
    exclude = ("response_body",)
