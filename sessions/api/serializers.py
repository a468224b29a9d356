"""Wire shapes of commands and sessions, for the OpenAPI schema.

Input is checked by sessions/inputs.py (framework-free, lenient where OCPI asks for it); output is
rendered by sessions/wire.py. These serializers describe both.
"""

from __future__ import annotations

from rest_framework import serializers

from sessions.inputs import (
    AUTH_METHODS,
    COMMAND_TYPES,
    DIMENSION_TYPES,
    RESPONSES,
    RESULTS,
    SESSION_STATUSES,
    TOKEN_TYPES,
)
from sessions.machine import CommandState


class CommandIn(serializers.Serializer):
    type = serializers.ChoiceField(choices=COMMAND_TYPES)
    evse_id = serializers.CharField(
        required=False, help_text="START_SESSION, RESERVE_NOW, UNLOCK_CONNECTOR: e.g. DE*ABC*E123456*1"
    )
    connector_id = serializers.CharField(required=False, help_text="required by UNLOCK_CONNECTOR")
    contract_id = serializers.CharField(required=False, help_text="START_SESSION, RESERVE_NOW: your contract")
    authorization_reference = serializers.CharField(
        required=False, help_text="your own reference, kept with the command (the CSO quotes the hub's)"
    )
    session_id = serializers.CharField(required=False, help_text="STOP_SESSION: the CSO's session id")
    operator_id = serializers.CharField(
        required=False, help_text="STOP_SESSION: the CSO (DE*ABC), when the id is ambiguous or not yet known"
    )
    reservation_id = serializers.CharField(required=False, help_text="RESERVE_NOW, CANCEL_RESERVATION")
    expiry = serializers.DateTimeField(required=False, help_text="RESERVE_NOW (also read as expiry_date)")


class CommandOut(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=COMMAND_TYPES)
    state = serializers.ChoiceField(choices=[s.value for s in CommandState])
    csp = serializers.CharField(help_text="provider ID")
    cso = serializers.CharField(help_text="operator ID")
    evse_id = serializers.CharField(allow_null=True)
    connector_id = serializers.CharField(allow_null=True)
    contract_id = serializers.CharField(allow_null=True)
    session_id = serializers.CharField(allow_null=True)
    reservation_id = serializers.CharField(allow_null=True)
    expiry_date = serializers.DateTimeField(allow_null=True)
    authorization_reference = serializers.CharField(
        allow_null=True, help_text="the hub's authorization, which the CSO quotes in the session and SDR"
    )
    csp_reference = serializers.CharField(allow_null=True)
    response = serializers.ChoiceField(
        choices=RESPONSES, allow_null=True, help_text="the CSO's answer at once"
    )
    timeout = serializers.IntegerField(allow_null=True, help_text="seconds the CSO announced for the outcome")
    result = serializers.ChoiceField(choices=RESULTS, allow_null=True, help_text="the CSO's final outcome")
    message = serializers.CharField(allow_null=True)
    failure_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    deadline_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class CommandResultIn(serializers.Serializer):
    result = serializers.ChoiceField(choices=RESULTS)
    message = serializers.CharField(
        required=False, help_text="text for the driver (or OCPI DisplayText list)"
    )


class PriceSchema(serializers.Serializer):
    excl_vat = serializers.DecimalField(max_digits=14, decimal_places=4)
    incl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, required=False, allow_null=True)


class DimensionSchema(serializers.Serializer):
    type = serializers.ChoiceField(choices=DIMENSION_TYPES)
    volume = serializers.FloatField()


class ChargingPeriodSchema(serializers.Serializer):
    start_date_time = serializers.DateTimeField()
    dimensions = DimensionSchema(many=True)
    tariff_id = serializers.CharField(required=False)


class CdrTokenSchema(serializers.Serializer):
    country_code = serializers.CharField(required=False)
    party_id = serializers.CharField(required=False)
    uid = serializers.CharField(required=False, help_text="kept as a masked hint only")
    type = serializers.ChoiceField(choices=TOKEN_TYPES, required=False)
    contract_id = serializers.CharField()


class SessionIn(serializers.Serializer):
    """OCPI 2.2.1 Session; evse_id or location_id + evse_uid; contract_id or cdr_token."""

    id = serializers.CharField(max_length=36)
    country_code = serializers.CharField(required=False)
    party_id = serializers.CharField(required=False)
    evse_id = serializers.CharField(required=False)
    location_id = serializers.CharField(required=False)
    evse_uid = serializers.CharField(required=False)
    connector_id = serializers.CharField()
    contract_id = serializers.CharField(required=False)
    cdr_token = CdrTokenSchema(required=False)
    auth_method = serializers.ChoiceField(choices=AUTH_METHODS, required=False)
    authorization_reference = serializers.CharField(required=False)
    start_date_time = serializers.DateTimeField()
    end_date_time = serializers.DateTimeField(required=False)
    kwh = serializers.FloatField(required=False)
    currency = serializers.CharField()
    charging_periods = ChargingPeriodSchema(many=True, required=False)
    total_cost = PriceSchema(required=False, allow_null=True)
    meter_id = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=SESSION_STATUSES, required=False, help_text="default ACTIVE")
    last_updated = serializers.DateTimeField(required=False, help_text="required in PATCH")


class SessionPatchIn(SessionIn):
    id = serializers.CharField(max_length=36, required=False)  # type: ignore[assignment]
    connector_id = serializers.CharField(required=False)  # type: ignore[assignment]
    start_date_time = serializers.DateTimeField(required=False)  # type: ignore[assignment]
    currency = serializers.CharField(required=False)  # type: ignore[assignment]
    last_updated = serializers.DateTimeField()  # type: ignore[assignment]


class SessionOut(SessionIn):
    evse_id = serializers.CharField()  # type: ignore[assignment]
    cso = serializers.CharField(help_text="operator ID")
    csp = serializers.CharField(help_text="provider ID")
    time_zone = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField(
        help_text="the hub's time of the last change (what `since` filters)"
    )


class SessionPageOut(serializers.Serializer):
    results = SessionOut(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class SessionUpdateOut(serializers.Serializer):
    applied = serializers.BooleanField(help_text="false when last_updated was not newer than the stored one")
    session = SessionOut()
