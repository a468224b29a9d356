"""Wire shapes of privacy for the OpenAPI schema (input is read by the views, output is
selectors.erasure_json() and the export document)."""

from __future__ import annotations

from rest_framework import serializers

from ..models import Channel, Erasure


class ErasureIn(serializers.Serializer):
    contract_id = serializers.CharField(
        help_text="the contract to forget, in any spelling (DE-ABC-C12345678-X, deabcc12345678)"
    )


class ErasureOut(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=Erasure.State.choices)
    pseudonym = serializers.CharField(help_text="what replaced the contract ID in the hub's records")
    requested_at = serializers.DateTimeField()
    requested_by = serializers.CharField(allow_null=True)
    channel = serializers.ChoiceField(choices=Channel.choices)
    waiting_for = serializers.DictField(
        child=serializers.IntegerField(), help_text="open activities a SCHEDULED erasure waits for"
    )
    completed_at = serializers.DateTimeField(allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="records changed, per step")


class ExportOut(serializers.Serializer):
    contract_id = serializers.CharField()
    csp = serializers.CharField()
    generated_at = serializers.DateTimeField()
    export_id = serializers.IntegerField()
    personal_data = serializers.ListField(child=serializers.DictField())
    credentials = serializers.ListField(child=serializers.DictField(), help_text="masked hints, no secret")
    issued_contracts = serializers.ListField(child=serializers.DictField())
    authorizations = serializers.ListField(child=serializers.DictField())
    sessions = serializers.ListField(child=serializers.DictField())
    commands = serializers.ListField(child=serializers.DictField())
    reservations = serializers.ListField(child=serializers.DictField())
    sdrs = serializers.ListField(child=serializers.DictField())
    erasures = serializers.ListField(child=serializers.DictField())
    exports = serializers.ListField(child=serializers.DictField())
