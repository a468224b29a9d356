"""Wire shapes of the partner registry."""

from __future__ import annotations

from rest_framework import serializers

from partners.models import Partner, RoamingAgreement, RoamingEndpoint


class EndpointOut(serializers.ModelSerializer):
    class Meta:
        model = RoamingEndpoint
        fields = ["role", "url", "protocol", "version", "active"]


class EndpointIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=["CSO", "CSP"])
    url = serializers.CharField(max_length=500)
    protocol = serializers.CharField(max_length=20, default="i3")
    version = serializers.CharField(max_length=20, default="1")


class EndpointsIn(serializers.Serializer):
    endpoints = EndpointIn(many=True)


class PartnerOut(serializers.ModelSerializer):
    roles = serializers.ListField(child=serializers.CharField())
    operator_id = serializers.CharField(allow_null=True)
    provider_id = serializers.CharField(allow_null=True)
    endpoints = EndpointOut(many=True)

    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "legal_name",
            "country_code",
            "party_id",
            "roles",
            "operator_id",
            "provider_id",
            "status",
            "vat_id",
            "settlement_currency",
            "contact_email",
            "endpoints",
        ]

    def to_representation(self, instance: Partner) -> dict:
        data = super().to_representation(instance)
        data["operator_id"] = instance.operator_id if instance.is_cso else None
        data["provider_id"] = instance.provider_id if instance.is_csp else None
        return data


class AgreementOut(serializers.ModelSerializer):
    cso = serializers.SerializerMethodField()
    csp = serializers.SerializerMethodField()
    authorization = serializers.CharField(source="authorization_subtype")

    class Meta:
        model = RoamingAgreement
        fields = [
            "id",
            "cso",
            "csp",
            "status",
            "mode",
            "authorization",
            "valid_from",
            "valid_until",
            "updated_at",
        ]

    def get_cso(self, obj: RoamingAgreement) -> dict:
        return {"partner_id": obj.cso_id, "name": obj.cso.name, "operator_id": obj.cso.operator_id}

    def get_csp(self, obj: RoamingAgreement) -> dict:
        return {"partner_id": obj.csp_id, "name": obj.csp.name, "provider_id": obj.csp.provider_id}


class DirectoryAgreementOut(serializers.Serializer):
    id = serializers.IntegerField(source="agreement.id")
    my_role = serializers.CharField()
    mode = serializers.CharField(source="agreement.mode")
    authorization = serializers.CharField(source="agreement.authorization_subtype")
    valid_from = serializers.DateTimeField(source="agreement.valid_from")
    valid_until = serializers.DateTimeField(source="agreement.valid_until", allow_null=True)


class DirectoryEntryOut(serializers.Serializer):
    partner_id = serializers.IntegerField(source="partner.id")
    name = serializers.CharField(source="partner.name")
    country_code = serializers.CharField(source="partner.country_code")
    party_id = serializers.CharField(source="partner.party_id")
    operator_id = serializers.SerializerMethodField()
    provider_id = serializers.SerializerMethodField()
    agreements = DirectoryAgreementOut(many=True)
    direct_endpoints = EndpointOut(many=True, source="endpoints")

    def get_operator_id(self, entry: dict) -> str | None:
        return entry["partner"].operator_id if entry["partner"].is_cso else None

    def get_provider_id(self, entry: dict) -> str | None:
        return entry["partner"].provider_id if entry["partner"].is_csp else None


class LoginIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=512, trim_whitespace=False)


class RefreshIn(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class TokenOut(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField(required=False)
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class PingOut(serializers.Serializer):
    partner_id = serializers.IntegerField()
    operator_id = serializers.CharField(allow_null=True)
    provider_id = serializers.CharField(allow_null=True)
    time = serializers.DateTimeField()
