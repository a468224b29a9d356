"""Locations, EVSEs, statuses and tariffs in the operator console.

Partners publish this data; staff look, search and filter, and do not edit it (a correction comes
from the CSO, through the API).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet

from clearinghouse.admin_mixins import ReadOnlyAdmin

from .models import (
    EVSE,
    Connector,
    ConnectorTariff,
    DanglingTariffReference,
    EvseStatusChange,
    Location,
    StatusPushCursor,
    Tariff,
)
from .ocpi.enums import EVSE_STATUSES
from .selectors.tariffs import tariff_references_dangling


def _published(model_field: str = "tariff_id") -> Exists:
    return Exists(Tariff.objects.filter(cso_id=OuterRef("cso_id"), tariff_id=OuterRef(model_field)))


class EvseStatusFilter(admin.SimpleListFilter):
    """Locations with at least one EVSE in a given live status."""

    title = "EVSE status"
    parameter_name = "evse_status"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [(status, status) for status in EVSE_STATUSES]

    def queryset(self, request: Any, queryset: QuerySet[Location]) -> QuerySet[Location]:
        if self.value():
            return queryset.filter(Exists(EVSE.objects.filter(location=OuterRef("pk"), status=self.value())))
        return queryset


class DanglingFilter(admin.SimpleListFilter):
    """Locations whose connectors name a tariff id the CSO has not published."""

    title = "dangling tariff references"
    parameter_name = "dangling"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: Any, queryset: QuerySet[Location]) -> QuerySet[Location]:
        dangling = Exists(tariff_references_dangling().filter(connector__evse__location=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(dangling)
        if self.value() == "no":
            return queryset.filter(~dangling)
        return queryset


class EvseInline(admin.TabularInline):
    model = EVSE
    fields = (
        "uid",
        "evse_id",
        "status",
        "status_updated_at",
        "last_updated",
        "floor_level",
        "physical_reference",
    )
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Location)
class LocationAdmin(ReadOnlyAdmin):
    list_display = ("location_id", "name", "cso", "city", "country", "publish", "last_updated")
    list_filter = ("publish", "country", "cso", EvseStatusFilter, DanglingFilter)
    search_fields = ("location_id", "name", "city", "postal_code", "evses__evse_id")
    list_select_related = ("cso",)
    show_full_result_count = False
    inlines = [EvseInline]
    readonly_fields = ("document",)


class ConnectorInline(admin.TabularInline):
    model = Connector
    fields = ("connector_id", "standard", "format", "power_type", "power_w", "tariff_ids")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(EVSE)
class EvseAdmin(ReadOnlyAdmin):
    list_display = ("evse_id", "uid", "location", "cso", "status", "status_updated_at")
    list_filter = ("status", "cso", "location__country")
    search_fields = ("evse_id", "uid", "location__location_id")
    list_select_related = ("location", "cso")
    raw_id_fields = ("location",)
    show_full_result_count = False
    inlines = [ConnectorInline]


@admin.register(EvseStatusChange)
class EvseStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ("id", "evse", "status", "timestamp", "received_at")
    list_filter = ("status",)
    search_fields = ("=evse__evse_id",)
    list_select_related = ("evse",)
    raw_id_fields = ("evse",)
    show_full_result_count = False


@admin.register(StatusPushCursor)
class StatusPushCursorAdmin(ReadOnlyAdmin):
    list_display = ("csp", "last_change_id", "updated_at")
    list_select_related = ("csp",)


@admin.register(Tariff)
class TariffAdmin(ReadOnlyAdmin):
    list_display = ("tariff_id", "cso", "currency", "type", "is_public", "connectors", "last_updated")
    list_filter = ("currency", "is_public", "type", "cso")
    search_fields = ("tariff_id", "cso__name", "cso__party_id")
    list_select_related = ("cso",)
    show_full_result_count = False
    readonly_fields = ("document",)

    def get_queryset(self, request: Any) -> QuerySet[Tariff]:
        refs = ConnectorTariff.objects.filter(cso_id=OuterRef("cso_id"), tariff_id=OuterRef("tariff_id"))
        return super().get_queryset(request).annotate(referenced=Exists(refs))

    @admin.display(description="used by connectors", boolean=True)
    def connectors(self, obj: Tariff) -> bool:
        return bool(getattr(obj, "referenced", False))


class ResolvedFilter(admin.SimpleListFilter):
    title = "tariff published"
    parameter_name = "resolved"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "No (dangling)"), ("yes", "Yes")]

    def queryset(self, request: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(~_published())
        if self.value() == "yes":
            return queryset.filter(_published())
        return queryset


@admin.register(DanglingTariffReference)
class DanglingTariffReferenceAdmin(ReadOnlyAdmin):
    """Connector references to tariff ids; filter "tariff published: No" lists the dangling ones,
    which resolve by themselves when the CSO publishes the tariff."""

    list_display = ("tariff_id", "cso", "location", "evse", "connector_label", "published")
    list_filter = (ResolvedFilter, "cso")
    search_fields = ("=tariff_id", "=connector__evse__evse_id")
    list_select_related = ("cso", "connector__evse__location")
    show_full_result_count = False

    def get_queryset(self, request: Any) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(is_published=_published())

    @admin.display(description="location")
    def location(self, obj: Any) -> str:
        return obj.connector.evse.location.location_id

    @admin.display(description="EVSE")
    def evse(self, obj: Any) -> str:
        return obj.connector.evse.evse_id

    @admin.display(description="connector")
    def connector_label(self, obj: Any) -> str:
        return obj.connector.connector_id

    @admin.display(description="tariff published", boolean=True)
    def published(self, obj: Any) -> bool:
        return bool(obj.is_published)
