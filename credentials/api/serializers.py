"""Wire shapes of credentials and authorization.

Input is checked by credentials/inputs.py (framework-free, shared with the services' callers); the
input serializers here describe it in the OpenAPI schema. Output of credentials goes through
CredentialOut; an authorization answer is AuthorizationOutcome.to_json(), described by
AuthorizationOut.
"""

from __future__ import annotations

from rest_framework import serializers

from credentials.decision import DecidedBy, Status, Whitelist
from credentials.models import Credential, CredentialType

WHITELISTS = [w.value for w in Whitelist]
# The model's own choice sets, so that each enum appears once in the schema.
TYPES = CredentialType.choices
STATES = Credential.State.choices


class AuthorizationCredentialIn(serializers.Serializer):
    type = serializers.ChoiceField(choices=TYPES)
    value = serializers.CharField(
        help_text="RFID UID, username, contract ID, or the dynamic QR code as scanned"
    )
    pin = serializers.CharField(required=False, allow_null=True)
    password = serializers.CharField(required=False, allow_null=True)
    certificate_fingerprint = serializers.CharField(required=False, allow_null=True)


class AuthorizationIn(serializers.Serializer):
    evse_id = serializers.CharField(help_text="an EVSE of the calling CSO, e.g. DE*ABC*E123456*1")
    credential = AuthorizationCredentialIn()
    cso_session_id = serializers.CharField(required=False, allow_null=True, max_length=64)


class AuthorizationStopIn(serializers.Serializer):
    credential = AuthorizationCredentialIn()


class AuthorizationOut(serializers.Serializer):
    authorization_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["START", "STOP"])
    status = serializers.ChoiceField(choices=[s.value for s in Status])
    reason = serializers.CharField(allow_null=True)
    contract_id = serializers.CharField(allow_null=True)
    csp = serializers.CharField(allow_null=True, help_text="the CSP's provider ID")
    decided_by = serializers.ChoiceField(choices=[d.value for d in DecidedBy], allow_null=True)
    authorization_reference = serializers.CharField(
        allow_null=True, help_text="quoted by sessions and SDRs; set on an ACCEPTED start"
    )
    valid_until = serializers.DateTimeField(allow_null=True)
    evse_id = serializers.CharField()
    cso_session_id = serializers.CharField(allow_null=True)


class CredentialDriverIn(serializers.Serializer):
    name = serializers.CharField(required=False, allow_null=True, max_length=200)
    email = serializers.CharField(required=False, allow_null=True, max_length=254)
    phone = serializers.CharField(required=False, allow_null=True, max_length=32)


class CredentialItemIn(serializers.Serializer):
    type = serializers.ChoiceField(choices=TYPES)
    value = serializers.CharField(
        required=False, allow_null=True, help_text="RFID UID or username; for the other types the contract ID"
    )
    contract_id = serializers.CharField(help_text="carries your provider ID")
    status = serializers.ChoiceField(choices=STATES, default="VALID")
    whitelist = serializers.ChoiceField(choices=WHITELISTS, default="ALLOWED")
    valid_from = serializers.DateTimeField(required=False, allow_null=True)
    valid_until = serializers.DateTimeField(required=False, allow_null=True)
    visual_number = serializers.CharField(required=False, allow_null=True, max_length=64)
    group_id = serializers.CharField(required=False, allow_null=True, max_length=64)
    pin = serializers.CharField(required=False, allow_null=True, help_text="QR_STATIC: 4 to 12 digits")
    password = serializers.CharField(required=False, allow_null=True, help_text="APP_USER: required")
    certificate_fingerprint = serializers.CharField(required=False, allow_null=True, help_text="PNC: SHA-256")
    driver = CredentialDriverIn(required=False, allow_null=True)


class CredentialItemErrorOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class CredentialItemResultOut(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="null for a credential mode=full removed")
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "removed", "rejected"])
    id = serializers.IntegerField(required=False)
    error = CredentialItemErrorOut(required=False)


class CredentialBulkResultOut(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["delta", "full"])
    counts = serializers.DictField(child=serializers.IntegerField())
    results = CredentialItemResultOut(many=True)


class CredentialOut(serializers.ModelSerializer):
    has_pin = serializers.SerializerMethodField()
    has_password = serializers.SerializerMethodField()
    last_updated = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Credential
        fields = [
            "id", "type", "issuer", "contract_id", "value_hint", "status", "whitelist", "valid_from",
            "valid_until", "visual_number", "group_id", "has_pin", "has_password", "certificate_fingerprint",
            "last_updated",
        ]  # fmt: skip

    def get_has_pin(self, obj: Credential) -> bool:
        return bool(obj.pin_hash)

    def get_has_password(self, obj: Credential) -> bool:
        return bool(obj.password_hash)


class CredentialPatchIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATES, required=False)
    whitelist = serializers.ChoiceField(choices=WHITELISTS, required=False)
    valid_from = serializers.DateTimeField(required=False, allow_null=True)
    valid_until = serializers.DateTimeField(required=False, allow_null=True)
    visual_number = serializers.CharField(required=False, allow_null=True, max_length=64)
    group_id = serializers.CharField(required=False, allow_null=True, max_length=64)


class CredentialIssueIn(serializers.Serializer):
    type = serializers.ChoiceField(choices=TYPES)
    contract_id = serializers.CharField(
        required=False, allow_null=True, help_text="one of your hub-issued contracts; a new one when absent"
    )
    value = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="RFID: the card's UID; APP_USER: a username (else generated)",
    )
    whitelist = serializers.ChoiceField(choices=WHITELISTS, default="ALLOWED")
    valid_from = serializers.DateTimeField(required=False, allow_null=True)
    valid_until = serializers.DateTimeField(required=False, allow_null=True)
    visual_number = serializers.CharField(required=False, allow_null=True, max_length=64)
    group_id = serializers.CharField(required=False, allow_null=True, max_length=64)
    pin = serializers.CharField(required=False, allow_null=True)
    generate_pin = serializers.BooleanField(required=False, default=False)
    password = serializers.CharField(
        required=False, allow_null=True, help_text="APP_USER: generated when absent"
    )
    certificate_fingerprint = serializers.CharField(required=False, allow_null=True)
    driver = CredentialDriverIn(required=False, allow_null=True)


class CredentialIssuedOut(CredentialOut):
    value = serializers.CharField(allow_null=True, help_text="shown once: UID, username or contract ID")
    pin = serializers.CharField(allow_null=True, help_text="shown once")
    password = serializers.CharField(allow_null=True, help_text="shown once")
    replayed = serializers.BooleanField()

    class Meta(CredentialOut.Meta):
        fields = [*CredentialOut.Meta.fields, "value", "pin", "password", "replayed"]


class CredentialDynamicQrOut(serializers.Serializer):
    credential_id = serializers.IntegerField()
    code = serializers.CharField()
    expires_at = serializers.DateTimeField()
