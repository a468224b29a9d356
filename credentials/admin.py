"""Credentials and authorization records in the operator console.

Staff find credentials by contract ID or masked hint, block and unblock them through the services,
and issue hub credentials (the values are shown once). Authorization records are read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from clearinghouse.admin_mixins import AuditedAdmin, ReadOnlyAdmin
from clearinghouse.context import Actor, actor_var
from clearinghouse.errors import DomainError
from clearinghouse.lib.identifiers import IdentifierError, parse_contract_id
from partners.models import Partner

from . import services
from .inputs import TYPES, WHITELISTS, InputProblem, parse_issue_request
from .models import AuthorizationRecord, Credential, IssuedContract


def _as_staff(request: Any) -> Any:
    return actor_var.set(Actor(user_id=request.user.pk, label=f"staff:{request.user.get_username()}"))


class IssueForm(forms.Form):
    """What staff fill in to issue a hub credential for a CSP."""

    csp = forms.ModelChoiceField(
        queryset=Partner.objects.filter(is_csp=True, status=Partner.Status.ACTIVE), label="CSP"
    )
    type = forms.ChoiceField(choices=[(t, t) for t in TYPES])
    contract_id = forms.CharField(
        required=False, help_text="one of the CSP's hub-issued contracts; leave empty for a new contract"
    )
    value = forms.CharField(
        required=False, help_text="RFID: the card's UID; APP_USER: a username (else generated)"
    )
    whitelist = forms.ChoiceField(choices=[(w, w) for w in WHITELISTS], initial="ALLOWED")
    visual_number = forms.CharField(required=False, max_length=64)
    group_id = forms.CharField(required=False, max_length=64)
    generate_pin = forms.BooleanField(required=False, help_text="QR_STATIC: generate a 6-digit PIN")
    certificate_fingerprint = forms.CharField(required=False, help_text="PNC: SHA-256 of the certificate")


@admin.register(Credential)
class CredentialAdmin(AuditedAdmin):
    list_display = (
        "id", "type", "value_hint", "contract_id", "issuer", "csp", "status", "whitelist", "valid_until",
        "updated_at",
    )  # fmt: skip
    list_filter = ("type", "status", "issuer", "whitelist", "csp")
    search_fields = ("contract_id", "value_hint")
    list_select_related = ("csp",)
    show_full_result_count = False
    fields = (
        "csp", "issuer", "type", "value_hint", "contract_id", "status", "whitelist", "valid_from",
        "valid_until", "visual_number", "group_id", "certificate_fingerprint", "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = fields
    actions = ["block", "unblock"]

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # CSPs remove their credentials; erasure has its own path

    def get_search_results(self, request: Any, queryset: Any, search_term: str) -> tuple[Any, bool]:
        # Staff paste contract IDs in any spelling (DEABCC12345678, de-abc-c12345678-x).
        try:
            contract = parse_contract_id(search_term).normalized()
        except IdentifierError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(contract_id=contract), False

    @admin.action(description="Block selected credentials")
    def block(self, request: Any, queryset: Any) -> None:
        token = _as_staff(request)
        try:
            count = services.credentials_block(credential_ids=list(queryset.values_list("pk", flat=True)))
        finally:
            actor_var.reset(token)
        self.message_user(request, f"Blocked {count} credential(s).", messages.SUCCESS)

    @admin.action(description="Unblock selected credentials")
    def unblock(self, request: Any, queryset: Any) -> None:
        token = _as_staff(request)
        try:
            count = services.credentials_unblock(credential_ids=list(queryset.values_list("pk", flat=True)))
        finally:
            actor_var.reset(token)
        self.message_user(request, f"Unblocked {count} credential(s).", messages.SUCCESS)

    def add_view(self, request: Any, form_url: str = "", extra_context: Any = None) -> Any:
        """Adding a credential here is issuing one with the hub as issuer, through the service."""
        if not self.has_add_permission(request):
            return super().add_view(request, form_url, extra_context)
        form = IssueForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if k != "csp" and v not in ("", None, False)}
            token = _as_staff(request)
            try:
                issued = services.credential_issue(
                    csp_id=form.cleaned_data["csp"].pk, request=parse_issue_request(data), by_staff=True
                )
            except (InputProblem, DomainError) as exc:
                form.add_error(None, exc.message)
            else:
                context = {
                    **self.admin_site.each_context(request),
                    "title": "Credential issued: values shown once",
                    "issued": issued,
                    "opts": self.model._meta,
                }
                response = TemplateResponse(request, "admin/credentials/credential/issued_once.html", context)
                response["Cache-Control"] = "no-store"
                return response
            finally:
                actor_var.reset(token)
        context = {
            **self.admin_site.each_context(request),
            "title": "Issue a hub credential",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/credentials/credential/issue.html", context)


@admin.register(IssuedContract)
class IssuedContractAdmin(ReadOnlyAdmin):
    list_display = ("contract_id", "csp", "created_at")
    list_filter = ("csp",)
    search_fields = ("contract_id",)
    list_select_related = ("csp",)
    show_full_result_count = False


@admin.register(AuthorizationRecord)
class AuthorizationRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "created_at", "kind", "status", "reason", "decided_by", "cso", "csp", "evse_id",
        "credential_type", "credential_hint", "contract_id", "latency_ms",
    )  # fmt: skip
    list_filter = ("status", "decided_by", "kind", "credential_type", "cso", "csp")
    search_fields = ("authorization_reference", "contract_id", "evse_id", "cso_session_id")
    list_select_related = ("cso", "csp")
    show_full_result_count = False
    fields = (
        "kind", "start", "cso", "csp", "credential", "evse_id", "cso_session_id", "credential_type",
        "credential_hint", "contract_id", "whitelist", "status", "reason", "decided_by",
        "authorization_reference", "valid_until", "latency_ms", "created_at", "decided_at", "routed_to",
        "deadline_at", "routed_at",
    )  # fmt: skip
    raw_id_fields = ("start", "cso", "csp", "credential")


# Privacy: erasures, exports and retention runs (credentials/privacy/admin.py registers them).
from .privacy import admin as privacy_admin  # noqa: E402, F401
