"""What CSOs publish: locations with their EVSEs and connectors, live EVSE status, tariffs.

Each location keeps its full OCPI document (what the CSO sent, read back as it was) and, beside
it, the columns and rows the hub queries: coordinates, EVSE IDs, statuses, connector power and
tariff references. The live status sits in narrow EVSE rows, so the hot path of status updates
rewrites small rows and never the documents.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from clearinghouse.db import DocumentField

from .ocpi.enums import EVSE_STATUSES


class EvseStatus(models.TextChoices):
    """OCPI 2.2.1 EVSE status."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


assert tuple(EvseStatus.values) == EVSE_STATUSES


class Location(models.Model):
    """A charging location of one CSO (OCPI Location), with its document and queried columns."""

    cso = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="locations")
    location_id = models.CharField("OCPI id", max_length=36)
    # As given in the document; ownership is `cso`, the partner that published it.
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    publish = models.BooleanField()
    name = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=45)
    city = models.CharField(max_length=45)
    postal_code = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=3, help_text="ISO 3166-1 alpha-3")
    latitude = models.FloatField()
    longitude = models.FloatField()
    parking_type = models.CharField(max_length=24, blank=True)
    time_zone = models.CharField(max_length=255, help_text="IANA time zone")
    last_updated = models.DateTimeField()
    document = DocumentField(help_text="the OCPI Location as published (EVSE statuses as sent)")
    # SHA-256 of the canonical document: a repeated full load skips locations that did not change.
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["last_updated", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cso", "location_id"], name="location_unique_cso_id"),
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90), name="location_lat_range"
            ),
            models.CheckConstraint(
                condition=Q(longitude__gte=-180, longitude__lte=180), name="location_lon_range"
            ),
        ]
        indexes = [
            # GET /locations/?bbox= and ?near=: a latitude range, then longitude, from the index.
            models.Index(fields=["latitude", "longitude"], name="location_geo"),
            # GET /locations/ pages in (last_updated, id) order; ?since= is a range on last_updated.
            models.Index(fields=["last_updated", "id"], name="location_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.name or self.address}"


class EVSE(models.Model):
    """One EVSE of a location, with its live status.

    `status` and `status_updated_at` are the newest status the CSO reported (through the bulk
    status endpoint or a location write) and the CSO's time of it; neither is indexed, so status
    updates stay heap-only on PostgreSQL.
    """

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="evses")
    # Denormalised from the location: the bulk status path looks EVSEs up by (cso, evse_id).
    cso = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    uid = models.CharField("OCPI uid", max_length=36)
    evse_id = models.CharField("EVSE ID", max_length=48, help_text="canonical form, e.g. DE*ABC*E123*1")
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=EvseStatus.choices)
    status_updated_at = models.DateTimeField()
    last_updated = models.DateTimeField()
    floor_level = models.CharField(max_length=4, blank=True)
    physical_reference = models.CharField(max_length=16, blank=True)

    class Meta:
        verbose_name = "EVSE"
        ordering = ["location_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cso", "evse_id"], name="evse_unique_cso_evse_id"),
            models.UniqueConstraint(fields=["location", "uid"], name="evse_unique_location_uid"),
            models.CheckConstraint(condition=Q(status__in=EVSE_STATUSES), name="evse_status_valid"),
        ]

    def __str__(self) -> str:
        return self.evse_id


class Connector(models.Model):
    """One connector of an EVSE: the columns that filters and rating need."""

    evse = models.ForeignKey(EVSE, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.CharField("OCPI id", max_length=36)
    standard = models.CharField(max_length=32)
    format = models.CharField(max_length=6)
    power_type = models.CharField(max_length=16, blank=True)
    max_voltage = models.PositiveIntegerField(null=True, blank=True)
    max_amperage = models.PositiveIntegerField(null=True, blank=True)
    max_electric_power = models.PositiveIntegerField(null=True, blank=True, help_text="W, as published")
    power_w = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="W: max_electric_power, else phases × volts × amperes"
    )
    tariff_ids = models.JSONField(default=list, blank=True)
    terms_and_conditions = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["evse_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["evse", "connector_id"], name="connector_unique_evse_id"),
        ]

    def __str__(self) -> str:
        return f"{self.connector_id} {self.standard}"


class ConnectorTariff(models.Model):
    """A connector's reference to a tariff id of its CSO; dangling while no such tariff exists."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="tariff_refs")
    cso = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    tariff_id = models.CharField(max_length=36)

    class Meta:
        verbose_name = "connector tariff reference"
        constraints = [
            models.UniqueConstraint(fields=["connector", "tariff_id"], name="connector_tariff_unique"),
        ]
        indexes = [
            # tariff_references_dangling(): references without a (cso, tariff_id) tariff.
            models.Index(fields=["cso", "tariff_id"], name="connector_tariff_ref"),
        ]

    def __str__(self) -> str:
        return self.tariff_id


class DanglingTariffReference(ConnectorTariff):
    """Connector tariff references, shown to staff with whether the tariff was published."""

    class Meta:
        proxy = True
        verbose_name = "connector tariff reference (dangling check)"


class EvseStatusChange(models.Model):
    """One change of an EVSE's status: the trail of status updates, the pull feed and the push.

    Written only when the status really changed (a repeated status refreshes the EVSE row but
    logs nothing).
    """

    evse = models.ForeignKey(EVSE, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=12, choices=EvseStatus.choices)
    timestamp = models.DateTimeField(help_text="the CSO's time of the status")
    received_at = models.DateTimeField(help_text="when the hub recorded the change")

    class Meta:
        ordering = ["id"]
        indexes = [
            # GET /evse-statuses/?since=: pages in (received_at, id) order; the retention purge.
            models.Index(fields=["received_at", "id"], name="status_change_feed"),
        ]

    def __str__(self) -> str:
        return f"{self.evse_id} → {self.status}"


class StatusPushCursor(models.Model):
    """How far status changes have been pushed to one CSP (the id of the last change handled)."""

    csp = models.OneToOneField("partners.Partner", on_delete=models.CASCADE, related_name="+")
    last_change_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.csp_id} @ {self.last_change_id}"


class Tariff(models.Model):
    """A tariff of one CSO (OCPI Tariff): public, or targeted at named CSPs."""

    cso = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="tariffs")
    tariff_id = models.CharField("OCPI id", max_length=36)
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    currency = models.CharField(max_length=3, help_text="ISO 4217")
    type = models.CharField(max_length=16, blank=True)
    # True when no CSP is targeted: every CSP with an agreement with the CSO sees it.
    is_public = models.BooleanField(default=True)
    start_date_time = models.DateTimeField(null=True, blank=True)
    end_date_time = models.DateTimeField(null=True, blank=True)
    last_updated = models.DateTimeField()
    document = DocumentField(help_text="the OCPI Tariff as published")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["last_updated", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cso", "tariff_id"], name="tariff_unique_cso_id"),
            models.CheckConstraint(
                condition=Q(start_date_time__isnull=True)
                | Q(end_date_time__isnull=True)
                | Q(end_date_time__gte=F("start_date_time")),
                name="tariff_validity_range",
            ),
        ]
        indexes = [
            # GET /tariffs/ pages in (last_updated, id) order.
            models.Index(fields=["last_updated", "id"], name="tariff_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.tariff_id} ({self.currency})"


class TariffTarget(models.Model):
    """A CSP a tariff is meant for (the hub's `target_provider_ids` extension)."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="targets")
    csp = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="targeted_tariffs")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tariff", "csp"], name="tariff_target_unique")]

    def __str__(self) -> str:
        return f"{self.tariff_id} → {self.csp_id}"
