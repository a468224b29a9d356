"""Deliveries in the operator console: filter, read the last error, re-drive or cancel."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages

from clearinghouse.admin_mixins import ReadOnlyAdmin
from clearinghouse.context import Actor, actor_var

from . import services
from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "partner",
        "role",
        "event_type",
        "state",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "short_error",
    )
    list_filter = ("state", "event_type", "role", "partner")
    search_fields = ("message_id", "event_type", "partner__name", "partner__party_id")
    list_select_related = ("partner",)
    show_full_result_count = False
    date_hierarchy = "created_at"
    actions = ["redrive", "cancel"]

    @admin.display(description="last error")
    def short_error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:120]

    def _staff(self, request: Any) -> Any:
        return actor_var.set(Actor(user_id=request.user.pk, label=f"staff:{request.user.get_username()}"))

    @admin.action(description="Re-drive (send again) selected dead or cancelled deliveries")
    def redrive(self, request: Any, queryset: Any) -> None:
        token = self._staff(request)
        try:
            count = services.outbox_redrive(message_ids=list(queryset.values_list("pk", flat=True)))
        finally:
            actor_var.reset(token)
        self.message_user(request, f"Re-driven: {count} delivery(ies).", messages.SUCCESS)

    @admin.action(description="Cancel selected pending deliveries")
    def cancel(self, request: Any, queryset: Any) -> None:
        token = self._staff(request)
        try:
            count = services.outbox_cancel(message_ids=list(queryset.values_list("pk", flat=True)))
        finally:
            actor_var.reset(token)
        self.message_user(request, f"Cancelled: {count} delivery(ies).", messages.SUCCESS)
