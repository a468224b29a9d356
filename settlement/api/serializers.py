"""Input checks of the SDR endpoints, and the shapes of their answers for the OpenAPI schema.

The answers themselves are built by settlement.representation (the same builder writes the
messages the hub pushes to CSPs); the output serializers here describe them.
"""

from __future__ import annotations

from rest_framework import serializers

from ..models import DisputeReason, SdrState

# States are documented as text: one choice set per field name keeps the schema's enum names stable
# across the apps that also have a `state`.
STATES = ", ".join(SdrState.values)


class PriceOut(serializers.Serializer):
    excl_vat = serializers.CharField(help_text="decimal string, 4 decimals")
    incl_vat = serializers.CharField(allow_null=True)


class FindingOut(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.CharField(help_text="error (rejects the SDR) or warning")
    message = serializers.CharField()
    field = serializers.CharField(allow_blank=True)


class DisputeOut(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=DisputeReason.choices)
    message = serializers.CharField(allow_null=True)
    disputed_at = serializers.DateTimeField()


class EventOut(serializers.Serializer):
    from_state = serializers.CharField(help_text=STATES)
    to_state = serializers.CharField(help_text=STATES)
    actor = serializers.CharField(help_text="CSO, CSP or HUB")
    reason_code = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()


class SdrOut(serializers.Serializer):
    """An SDR as the hub holds it: its columns, findings, rating and the CDR as received."""

    id = serializers.IntegerField(help_text="the hub's id, used in /sdrs/{id}")
    sdr_id = serializers.CharField(help_text="the CSO's id (OCPI CDR.id)")
    state = serializers.CharField(help_text=STATES)
    cso = serializers.CharField(help_text="operator ID, e.g. DE*ABC")
    csp = serializers.CharField(allow_null=True, help_text="provider ID, e.g. NL-XYZ")
    credit = serializers.BooleanField()
    credit_reference_id = serializers.CharField(allow_null=True)
    credit_of = serializers.IntegerField(allow_null=True, help_text="hub id of the credited SDR")
    replacement_of = serializers.IntegerField(allow_null=True, help_text="hub id of the corrected SDR")
    session_id = serializers.CharField(allow_null=True)
    contract_id = serializers.CharField(allow_null=True)
    evse_id = serializers.CharField(allow_null=True)
    connector_id = serializers.CharField(allow_null=True)
    authorization_reference = serializers.CharField(allow_null=True)
    start_date_time = serializers.DateTimeField(allow_null=True)
    end_date_time = serializers.DateTimeField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    total_cost = PriceOut(allow_null=True)
    total_energy = serializers.CharField(allow_null=True, help_text="kWh, decimal string")
    total_time = serializers.CharField(allow_null=True, help_text="hours, decimal string")
    total_parking_time = serializers.CharField(allow_null=True)
    hub_cost = PriceOut(allow_null=True, help_text="the hub's rating of the SDR")
    cost_difference = serializers.CharField(allow_null=True, help_text="total_cost minus hub_cost, excl. VAT")
    tariff_source = serializers.CharField(allow_null=True, help_text="AGREEMENT, PUBLISHED or SDR")
    findings = FindingOut(many=True)
    dispute = DisputeOut(allow_null=True)
    received_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    settled_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    rating = serializers.JSONField(allow_null=True, required=False, help_text="the hub's priced lines")
    cdr = serializers.JSONField(required=False, help_text="the OCPI CDR as received")
    events = EventOut(many=True, required=False, help_text="the SDR's history (detail only)")


class ItemErrorOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField()


class IntakeItemOut(serializers.Serializer):
    index = serializers.IntegerField()
    sdr_id = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(help_text="201 created, 200 already stored, 422 rejected, 409, 400")
    result = serializers.CharField(help_text="created, existing, rejected, conflict or invalid")
    sdr = SdrOut(allow_null=True, help_text="the stored SDR, without its CDR and rating")
    error = ItemErrorOut(required=False)


class IntakeOut(serializers.Serializer):
    results = IntakeItemOut(many=True)
    summary = serializers.DictField(child=serializers.IntegerField())


class DisputeIn(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=DisputeReason.choices)
    message = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", trim_whitespace=False
    )


class CorrectionIn(serializers.Serializer):
    credit_id = serializers.CharField(max_length=39, required=False, help_text="default: the SDR's id + '-C'")
    replacement = serializers.JSONField(required=False, help_text="a new OCPI CDR replacing the credited one")
    remark = serializers.CharField(max_length=255, required=False, allow_blank=True)


class CorrectionOut(serializers.Serializer):
    credit = SdrOut()
    replacement = SdrOut(allow_null=True)
