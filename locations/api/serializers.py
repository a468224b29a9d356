"""Wire shapes of the locations endpoints, for the OpenAPI schema.

Location, EVSE, Connector and Tariff bodies are OCPI 2.2.1 objects, checked by locations.ocpi
(one set of rules for every entry point); they appear here as free-form objects.
"""

from __future__ import annotations

from rest_framework import serializers

from ..ocpi.enums import EVSE_STATUSES

STATUS_HELP = "OCPI 2.2.1 EVSE status: " + ", ".join(EVSE_STATUSES)


class LocationsItemErrorOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(required=False)


class StatusItemIn(serializers.Serializer):
    evse_id = serializers.CharField(help_text="EVSE ID of one of your EVSEs, e.g. DE*ABC*E123456*1")
    status = serializers.CharField(help_text=STATUS_HELP)
    timestamp = serializers.DateTimeField(help_text="your time of the status (RFC 3339)")


class StatusResultOut(serializers.Serializer):
    index = serializers.IntegerField()
    evse_id = serializers.CharField(allow_null=True)
    status = serializers.CharField(help_text="applied, unchanged, ignored_older or rejected")
    error = LocationsItemErrorOut(required=False)


class StatusResultsOut(serializers.Serializer):
    results = StatusResultOut(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())


class StatusChangeOut(serializers.Serializer):
    id = serializers.IntegerField()
    evse_id = serializers.CharField()
    evse_uid = serializers.CharField()
    location_id = serializers.CharField()
    operator_id = serializers.CharField()
    status = serializers.CharField(help_text=STATUS_HELP)
    timestamp = serializers.CharField(help_text="the CSO's time of the status")
    received_at = serializers.CharField(help_text="when the hub recorded the change")


class WriteResultOut(serializers.Serializer):
    result = serializers.CharField(help_text="created, updated, unchanged or ignored_older")
    location = serializers.JSONField(required=False)
    evse = serializers.JSONField(required=False)
    connector = serializers.JSONField(required=False)
    tariff = serializers.JSONField(required=False)


class LocationsItemResultOut(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.CharField(allow_null=True)
    result = serializers.CharField()
    error = LocationsItemErrorOut(required=False)


class FullLoadOut(serializers.Serializer):
    result = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    items = LocationsItemResultOut(many=True)


class DeltaIn(serializers.Serializer):
    upsert = serializers.ListField(child=serializers.JSONField(), required=False)
    remove = serializers.ListField(child=serializers.CharField(), required=False)


class DeltaOut(serializers.Serializer):
    upsert = LocationsItemResultOut(many=True)
    remove = LocationsItemResultOut(many=True)
