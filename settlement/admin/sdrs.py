"""SDRs in the operator console: read-only records, filters, search by ids, the dispute queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.html import format_html

from clearinghouse.admin_mixins import ReadOnlyAdmin
from clearinghouse.lib.identifiers import IdentifierError, mask, parse_contract_id
from partners.models import Partner

from ..models import DisputedSdr, Sdr, SdrChargingPeriod, SdrEvent, SdrFinding, SdrState
from ..selectors.sdrs import state_q
from ..validation import CODES

PERIOD_MONTHS = 12


class StateFilter(admin.SimpleListFilter):
    """The state as the API shows it: SETTLED is ACCEPTED in a closed settlement bucket."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return list(SdrState.choices)

    def queryset(self, request: Any, queryset: QuerySet[Sdr]) -> QuerySet[Sdr]:
        value = self.value()
        return queryset.filter(state_q(value)) if value else queryset


class FindingFilter(admin.SimpleListFilter):
    title = "finding"
    parameter_name = "finding"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("any-warning", "any warning"), *((code, code) for code in CODES)]

    def queryset(self, request: Any, queryset: QuerySet[Sdr]) -> QuerySet[Sdr]:
        value = self.value()
        if not value:
            return queryset
        if value == "any-warning":
            return queryset.filter(has_warnings=True)
        return queryset.filter(Exists(SdrFinding.objects.filter(sdr=OuterRef("pk"), code=value)))


class CurrencyFilter(admin.SimpleListFilter):
    """The partners' settlement currencies (a DISTINCT over every SDR would read the whole table)."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        currencies = sorted(set(Partner.objects.values_list("settlement_currency", flat=True)))
        return [(c, c) for c in currencies]

    def queryset(self, request: Any, queryset: QuerySet[Sdr]) -> QuerySet[Sdr]:
        return queryset.filter(currency=self.value()) if self.value() else queryset


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _months_back(now: datetime, count: int) -> list[tuple[int, int]]:
    year, month = now.year, now.month
    months = []
    for _ in range(count):
        months.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


class PeriodFilter(admin.SimpleListFilter):
    """Calendar month of the session end (UTC), the last twelve: a range on the sdr_end index."""

    title = "period (session end)"
    parameter_name = "period"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (f"{y:04d}-{m:02d}", f"{y:04d}-{m:02d}") for y, m in _months_back(timezone.now(), PERIOD_MONTHS)
        ]

    def queryset(self, request: Any, queryset: QuerySet[Sdr]) -> QuerySet[Sdr]:
        value = self.value()
        if not value:
            return queryset
        try:
            year, month = (int(part) for part in value.split("-"))
            start = _month_start(year, month)
        except ValueError:
            return queryset.none()
        end = _month_start(year + 1, 1) if month == 12 else _month_start(year, month + 1)
        return queryset.filter(end_date_time__gte=start, end_date_time__lt=end)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class FindingInline(_ReadOnlyInline):
    model = SdrFinding
    fields = ("severity", "code", "field", "message")


class PeriodInline(_ReadOnlyInline):
    model = SdrChargingPeriod
    fields = (
        "index",
        "start_date_time",
        "end_date_time",
        "tariff_id",
        "energy",
        "charging_time",
        "parking_time",
    )


class EventInline(_ReadOnlyInline):
    model = SdrEvent
    fields = ("created_at", "from_state", "to_state", "actor", "partner", "reason_code", "message")


def _masked_cdr(cdr: Any) -> Any:
    """The CDR with the token's uid masked: staff need the contract ID, not the card number."""
    if not isinstance(cdr, dict) or not isinstance(cdr.get("cdr_token"), dict):
        return cdr
    token = dict(cdr["cdr_token"])
    if isinstance(token.get("uid"), str):
        token["uid"] = mask(token["uid"])
    return {**cdr, "cdr_token": token}


@admin.register(Sdr)
class SdrAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "sdr_id",
        "shown_state",
        "cso",
        "csp",
        "credit",
        "currency",
        "total_cost_excl_vat",
        "hub_cost_excl_vat",
        "cost_difference",
        "has_warnings",
        "end_date_time",
        "received_at",
    )
    list_filter = (StateFilter, FindingFilter, "cso", "csp", CurrencyFilter, PeriodFilter, "credit")
    # Exact matches, each on an index; a contract ID is found in any spelling (see below).
    search_fields = ("=sdr_id", "=session_id", "=contract_id")
    search_help_text = "SDR id, session id or contract ID (exact)"
    list_select_related = ("cso", "csp", "bucket")
    show_full_result_count = False
    ordering = ("-id",)
    inlines = (FindingInline, PeriodInline, EventInline)
    fields = (
        ("sdr_id", "shown_state", "credit"),
        ("cso", "csp"),
        ("credit_reference_id", "credit_of", "replacement_of"),
        ("session_id", "contract_id", "authorization_reference", "auth_method"),
        ("evse_id", "connector_id"),
        ("start_date_time", "end_date_time"),
        ("currency", "total_cost_excl_vat", "total_cost_incl_vat"),
        ("total_energy", "total_time", "total_parking_time"),
        ("tariff_source", "hub_cost_excl_vat", "hub_cost_incl_vat", "cost_difference"),
        ("dispute_reason_code", "dispute_message"),
        ("received_at", "delivered_at", "accepted_at", "disputed_at", "settled_at", "updated_at"),
        "rating_document",
        "cdr_document",
    )
    readonly_fields = ("shown_state", "settled_at", "rating_document", "cdr_document")

    @admin.display(description="state", ordering="state")
    def shown_state(self, obj: Sdr) -> str:
        return obj.effective_state

    @admin.display(description="the hub's rating")
    def rating_document(self, obj: Sdr) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.rating, indent=2)) if obj.rating else "-"

    @admin.display(description="CDR as received (token uid masked)")
    def cdr_document(self, obj: Sdr) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(_masked_cdr(obj.cdr), indent=2, default=str, ensure_ascii=False)
        )

    def get_search_results(
        self, request: Any, queryset: QuerySet[Sdr], search_term: str
    ) -> tuple[QuerySet[Sdr], bool]:
        term = search_term.strip()
        try:
            contract = parse_contract_id(term).normalized()
        except IdentifierError:
            return super().get_search_results(request, queryset, term)
        return queryset.filter(contract_id=contract), False


@admin.register(DisputedSdr)
class DisputeQueueAdmin(SdrAdmin):
    """Disputed SDRs waiting for the CSO's correction or the CSP's acceptance, the oldest first."""

    list_display = (
        "id",
        "sdr_id",
        "cso",
        "csp",
        "dispute_reason_code",
        "short_message",
        "disputed_at",
        "days_open",
        "currency",
        "total_cost_excl_vat",
        "hub_cost_excl_vat",
    )
    list_filter = ("dispute_reason_code", "cso", "csp", CurrencyFilter)
    ordering = ("disputed_at", "id")

    def get_queryset(self, request: Any) -> QuerySet[Sdr]:
        return super().get_queryset(request).filter(state=SdrState.DISPUTED)

    @admin.display(description="message")
    def short_message(self, obj: Sdr) -> str:
        return obj.dispute_message[:80]

    @admin.display(description="days open")
    def days_open(self, obj: Sdr) -> int | None:
        return (timezone.now() - obj.disputed_at).days if obj.disputed_at else None
