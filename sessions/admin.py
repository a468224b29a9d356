"""The operator console for remote commands, sessions and reservations: read-only (partners sent
these records, or the hub derived them), filtered by partner, state and EVSE, searched by ids."""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet

from clearinghouse.admin_mixins import ReadOnlyAdmin
from clearinghouse.lib.identifiers import IdentifierError, parse_contract_id, parse_evse_id

from .models import ChargingSession, RemoteCommand, Reservation


class EvseFilter(admin.SimpleListFilter):
    """A text box for one EVSE ID (any spelling): EVSEs are far too many to list as choices."""

    title = "EVSE ID"
    parameter_name = "evse"
    template = "admin/charging_sessions/input_filter.html"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        # Django shows a filter only when it has choices; the template draws a text box instead.
        return [("", "")]

    def choices(self, changelist: Any) -> list[dict[str, Any]]:
        # The other filters in force stay in force when this one is typed in (values come as lists).
        self.kept_params = [
            (name, value)
            for name, values in changelist.get_filters_params().items()
            if name != self.parameter_name
            for value in (values if isinstance(values, list) else [values])
        ]
        self.clear_url = changelist.get_query_string(remove=[self.parameter_name])
        return []

    def queryset(self, request: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        try:
            return queryset.filter(evse_id=str(parse_evse_id(self.value())))
        except IdentifierError:
            return queryset.none()


class IdSearchMixin:
    """Search finds a contract ID or EVSE ID in any spelling (DEABCC12345678 or DE-ABC-C12345678-X)."""

    def get_search_results(self, request: Any, queryset: QuerySet[Any], search_term: str) -> Any:
        results, duplicates = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        term = search_term.strip()
        with contextlib.suppress(IdentifierError):
            results |= queryset.filter(contract_id=parse_contract_id(term).normalized())
        with contextlib.suppress(IdentifierError):
            results |= queryset.filter(evse_id=str(parse_evse_id(term)))
        return results, duplicates


@admin.register(RemoteCommand)
class RemoteCommandAdmin(IdSearchMixin, ReadOnlyAdmin):
    list_display = ("uid", "created_at", "type", "state", "csp", "cso", "evse_id", "response", "result")
    list_filter = ("state", "type", "csp", "cso", EvseFilter)
    search_fields = ("=uid", "=session_id", "=contract_id", "=authorization_reference", "=evse_id")
    list_select_related = ("csp", "cso")
    show_full_result_count = False
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in RemoteCommand._meta.fields]


@admin.register(ChargingSession)
class ChargingSessionAdmin(IdSearchMixin, ReadOnlyAdmin):
    list_display = ("session_id", "start_date_time", "status", "cso", "csp", "evse_id", "contract_id", "kwh")
    list_filter = ("status", "auth_method", "cso", "csp", EvseFilter)
    search_fields = ("=session_id", "=contract_id", "=authorization_reference", "=evse_id")
    list_select_related = ("csp", "cso")
    show_full_result_count = False
    date_hierarchy = "start_date_time"
    readonly_fields = [f.name for f in ChargingSession._meta.fields]


@admin.register(Reservation)
class ReservationAdmin(IdSearchMixin, ReadOnlyAdmin):
    list_display = ("reservation_id", "created_at", "state", "csp", "cso", "evse_id", "expiry_date")
    list_filter = ("state", "csp", "cso", EvseFilter)
    search_fields = ("=reservation_id", "=contract_id", "=authorization_reference", "=evse_id")
    list_select_related = ("csp", "cso")
    show_full_result_count = False
    readonly_fields = [f.name for f in Reservation._meta.fields]
