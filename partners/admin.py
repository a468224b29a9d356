"""The operator console for partners: onboarding, status, API credentials, endpoints, agreements."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from clearinghouse.admin_mixins import AuditedAdmin
from clearinghouse.context import Actor, actor_var
from clearinghouse.errors import DomainError
from clearinghouse.lib.codes import is_currency
from clearinghouse.lib.identifiers import IdentifierError, normalize_country_code, normalize_party_id

from . import services
from .models import Partner, PartnerUser, RoamingAgreement, RoamingEndpoint


def _as_staff(request: Any) -> Any:
    return actor_var.set(Actor(user_id=request.user.pk, label=f"staff:{request.user.get_username()}"))


class EndpointInline(admin.TabularInline):
    model = RoamingEndpoint
    extra = 0
    fields = ("role", "url", "protocol", "version", "active")


class PartnerUserInline(admin.TabularInline):
    model = PartnerUser
    extra = 0
    can_delete = False
    fields = ("user", "created_at", "secret_rotated_at", "failed_logins", "locked_until")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # API users are issued with the "issue API credentials" action


class AgreementAsCsoInline(admin.TabularInline):
    model = RoamingAgreement
    fk_name = "cso"
    extra = 0
    verbose_name_plural = "agreements as CSO"
    fields = ("csp", "status", "mode", "authorization_subtype", "valid_from", "valid_until")
    raw_id_fields = ("csp",)
    show_change_link = True


class AgreementAsCspInline(AgreementAsCsoInline):
    fk_name = "csp"
    verbose_name_plural = "agreements as CSP"
    fields = ("cso", "status", "mode", "authorization_subtype", "valid_from", "valid_until")
    raw_id_fields = ("cso",)


def _transition_action(action: str, label: str) -> Any:
    def run(modeladmin: PartnerAdmin, request: Any, queryset: Any) -> None:
        token = _as_staff(request)
        done, refused = 0, []
        try:
            for partner in queryset:
                try:
                    services.partner_transition(partner=partner, action=action)
                    done += 1
                except DomainError as exc:
                    refused.append(f"{partner}: {exc.message}")
        finally:
            actor_var.reset(token)
        if done:
            modeladmin.message_user(request, f"{label}: {done} partner(s).", messages.SUCCESS)
        for line in refused:
            modeladmin.message_user(request, line, messages.WARNING)

    run.__name__ = f"partner_{action}"
    return admin.action(description=f"{label} selected partners")(run)


class PartnerForm(forms.ModelForm):
    """Validates identifiers the same way the onboarding service does."""

    class Meta:
        model = Partner
        fields = [
            "name",
            "legal_name",
            "country_code",
            "party_id",
            "is_cso",
            "is_csp",
            "vat_id",
            "settlement_currency",
            "contact_email",
            "billing_street",
            "billing_postal_code",
            "billing_city",
            "billing_country",
        ]

    def _identifier(self, field: str, normalize: Any) -> str:
        try:
            return normalize(self.cleaned_data[field])
        except IdentifierError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_country_code(self) -> str:
        return self._identifier("country_code", normalize_country_code)

    def clean_party_id(self) -> str:
        return self._identifier("party_id", normalize_party_id)

    def clean_settlement_currency(self) -> str:
        value = self.cleaned_data["settlement_currency"]
        if not is_currency(value):
            raise forms.ValidationError("Not an ISO 4217 currency code.")
        return value

    def clean(self) -> dict:
        data = super().clean() or {}
        if not data.get("is_cso") and not data.get("is_csp"):
            raise forms.ValidationError("A partner needs the CSO role, the CSP role, or both.")
        return data


@admin.register(Partner)
class PartnerAdmin(AuditedAdmin):
    form = PartnerForm
    list_display = (
        "name",
        "country_code",
        "party_id",
        "is_cso",
        "is_csp",
        "status",
        "settlement_currency",
        "updated_at",
    )
    list_filter = ("status", "is_cso", "is_csp", "country_code")
    search_fields = ("name", "legal_name", "party_id", "vat_id", "contact_email")
    readonly_fields = ("status", "created_at", "updated_at")
    inlines = [EndpointInline, PartnerUserInline, AgreementAsCsoInline, AgreementAsCspInline]
    fieldsets = (
        (None, {"fields": ("name", "legal_name", "country_code", "party_id", "is_cso", "is_csp", "status")}),
        (
            "Billing",
            {
                "fields": (
                    "vat_id",
                    "settlement_currency",
                    "contact_email",
                    "billing_street",
                    "billing_postal_code",
                    "billing_city",
                    "billing_country",
                )
            },
        ),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    actions = [
        _transition_action("approve", "Approve"),
        _transition_action("suspend", "Suspend"),
        _transition_action("reactivate", "Reactivate"),
        _transition_action("terminate", "Terminate"),
        "issue_api_credentials",
    ]

    @admin.action(description="Issue API credentials (shown once)")
    def issue_api_credentials(self, request: Any, queryset: Any) -> Any:
        token = _as_staff(request)
        issued, refused = [], []
        try:
            for partner in queryset:
                try:
                    issued.append((partner, services.partner_user_issue(partner=partner)))
                except DomainError as exc:
                    refused.append(f"{partner}: {exc.message}")
        finally:
            actor_var.reset(token)
        for line in refused:
            self.message_user(request, line, messages.WARNING)
        if not issued:
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "API credentials: shown once",
            "issued": issued,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/partners/credentials_once.html", context)


@admin.register(PartnerUser)
class PartnerUserAdmin(AuditedAdmin):
    list_display = ("user", "partner", "created_at", "secret_rotated_at", "failed_logins", "locked_until")
    list_filter = ("partner__status",)
    search_fields = ("user__username", "partner__name", "partner__party_id")
    list_select_related = ("user", "partner")
    readonly_fields = ("user", "partner", "created_at", "secret_rotated_at", "failed_logins")
    fields = ("user", "partner", "created_at", "secret_rotated_at", "failed_logins", "locked_until")
    actions = ["rotate_secret", "unlock", "deactivate"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.action(description="Rotate the HMAC secret (shown once)")
    def rotate_secret(self, request: Any, queryset: Any) -> Any:
        token = _as_staff(request)
        try:
            rotated = [(pu, services.partner_user_rotate_secret(partner_user=pu)) for pu in queryset]
        finally:
            actor_var.reset(token)
        context = {
            **self.admin_site.each_context(request),
            "title": "New HMAC secrets: shown once",
            "rotated": rotated,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/partners/credentials_once.html", context)

    @admin.action(description="Unlock after failed logins")
    def unlock(self, request: Any, queryset: Any) -> None:
        count = queryset.update(failed_logins=0, locked_until=None)
        self.message_user(request, f"Unlocked {count} API user(s).")

    @admin.action(description="Deactivate API user")
    def deactivate(self, request: Any, queryset: Any) -> None:
        token = _as_staff(request)
        try:
            for pu in queryset:
                services.partner_user_deactivate(partner_user=pu)
        finally:
            actor_var.reset(token)
        self.message_user(request, "Deactivated.")


@admin.register(RoamingEndpoint)
class RoamingEndpointAdmin(AuditedAdmin):
    list_display = ("partner", "role", "url", "protocol", "version", "active", "updated_at")
    list_filter = ("role", "active", "protocol")
    search_fields = ("partner__name", "partner__party_id", "url")
    list_select_related = ("partner",)
    raw_id_fields = ("partner",)


@admin.register(RoamingAgreement)
class RoamingAgreementAdmin(AuditedAdmin):
    list_display = (
        "id",
        "cso",
        "csp",
        "status",
        "mode",
        "authorization_subtype",
        "valid_from",
        "valid_until",
    )
    list_filter = ("status", "mode", "authorization_subtype")
    search_fields = ("cso__name", "cso__party_id", "csp__name", "csp__party_id")
    list_select_related = ("cso", "csp")
    raw_id_fields = ("cso", "csp")
    actions = ["suspend", "reactivate", "terminate"]

    def save_model(self, request: Any, obj: RoamingAgreement, form: Any, change: bool) -> None:
        # New agreements go through the service so roles and overlaps are checked like everywhere else.
        if change:
            return super().save_model(request, obj, form, change)
        token = _as_staff(request)
        try:
            created = services.agreement_create(
                cso=obj.cso,
                csp=obj.csp,
                mode=obj.mode,
                authorization_subtype=obj.authorization_subtype,
                valid_from=obj.valid_from,
                valid_until=obj.valid_until,
                pinned_tariff_id=obj.pinned_tariff_id,
            )
        finally:
            actor_var.reset(token)
        obj.pk = created.pk
        obj.status = created.status
        return None

    def _set_status(self, request: Any, queryset: Any, status: str) -> None:
        token = _as_staff(request)
        try:
            for agreement in queryset:
                try:
                    services.agreement_set_status(agreement=agreement, status=status)
                except DomainError as exc:
                    self.message_user(request, f"#{agreement.pk}: {exc.message}", messages.WARNING)
        finally:
            actor_var.reset(token)

    @admin.action(description="Suspend selected agreements")
    def suspend(self, request: Any, queryset: Any) -> None:
        self._set_status(request, queryset, RoamingAgreement.Status.SUSPENDED)

    @admin.action(description="Reactivate selected agreements")
    def reactivate(self, request: Any, queryset: Any) -> None:
        self._set_status(request, queryset, RoamingAgreement.Status.ACTIVE)

    @admin.action(description="Terminate selected agreements")
    def terminate(self, request: Any, queryset: Any) -> None:
        self._set_status(request, queryset, RoamingAgreement.Status.TERMINATED)
