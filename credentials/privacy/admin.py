"""Privacy in the operator console (registered through credentials/admin.py).

Staff request an erasure or an export for a contract (any spelling) with the add form; both go
through the services, as the CSP's API requests do. Erasures, exports and retention runs are
records: read-only. No page shows a contract ID: an erasure is named by its pseudonym, and staff find
it by pasting the contract ID into the search.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse

from clearinghouse.admin_mixins import AuditedAdmin, ReadOnlyAdmin
from clearinghouse.context import Actor, actor_var
from clearinghouse.errors import DomainError
from clearinghouse.lib.identifiers import IdentifierError

from . import services
from .contracts import contract_read, pseudonym_of
from .models import Channel, DataExport, Erasure, RetentionRun
from .selectors import contract_owner


def _as_staff(request: Any) -> Any:
    return actor_var.set(Actor(user_id=request.user.pk, label=f"staff:{request.user.get_username()}"))


def _copy(target: Any, source: Any) -> None:
    """Make the admin's unsaved object the record the service wrote (for the log and the redirect)."""
    for field in type(source)._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False


class ContractForm(forms.ModelForm):
    """A contract ID in any spelling, of a contract whose CSP the hub knows."""

    contract_id = forms.CharField(max_length=40, label="Contract ID")

    def clean_contract_id(self) -> str:
        value = self.cleaned_data["contract_id"]
        try:
            contract = contract_read(value)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        if contract_owner(contract) is None:
            raise forms.ValidationError("No CSP known to the hub owns this contract.")
        return contract.canonical


class ErasureForm(ContractForm):
    contract_id = forms.CharField(
        max_length=40,
        label="Contract ID",
        help_text="Irreversible: the contract's personal data and credentials are deleted, its contract "
        "ID is replaced by a pseudonym everywhere. Waits while the contract has a session going on.",
    )

    class Meta:
        model = Erasure
        fields: list[str] = []


class ExportForm(ContractForm):
    class Meta:
        model = DataExport
        fields: list[str] = []


def _pseudonym_search(queryset: Any, search_term: str) -> Any | None:
    """Staff paste a contract ID: the records of its pseudonym (None: not a contract ID)."""
    try:
        return queryset.filter(pseudonym=pseudonym_of(search_term))
    except IdentifierError:
        return None


@admin.register(Erasure)
class ErasureAdmin(AuditedAdmin):
    form = ErasureForm
    list_display = (
        "id", "pseudonym", "csp", "state", "channel", "requested_by", "requested_at", "completed_at",
    )  # fmt: skip
    list_filter = ("state", "channel", "csp")
    search_fields = ("pseudonym",)
    list_select_related = ("csp",)
    show_full_result_count = False
    readonly_fields = (
        "csp", "pseudonym", "state", "channel", "requested_by", "requested_by_user", "requested_at",
        "waiting_for", "completed_at", "counts",
    )  # fmt: skip
    actions = ["run_now"]

    def get_fields(self, request: Any, obj: Any = None) -> Any:
        return ("contract_id",) if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # irreversible: nothing about an erasure can be changed

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request: Any, queryset: Any, search_term: str) -> tuple[Any, bool]:
        found = _pseudonym_search(queryset, search_term)
        if found is None:
            return super().get_search_results(request, queryset, search_term)
        return found, False

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        token = _as_staff(request)
        try:
            answer = services.erasure_request(
                contract_id=form.cleaned_data["contract_id"], csp_id=None, channel=Channel.ADMIN
            )
        finally:
            actor_var.reset(token)
        _copy(obj, answer.erasure)
        if not answer.created:
            self.message_user(
                request, "This contract was erased already; here is its erasure.", messages.INFO
            )

    @admin.action(description="Run the selected scheduled erasures now, without waiting")
    def run_now(self, request: Any, queryset: Any) -> None:
        token = _as_staff(request)
        try:
            done = sum(
                services.erasure_run(erasure_id=pk, force=True)
                for pk in queryset.filter(state=Erasure.State.SCHEDULED).values_list("pk", flat=True)
            )
        finally:
            actor_var.reset(token)
        self.message_user(request, f"Completed {done} erasure(s).", messages.SUCCESS)


@admin.register(DataExport)
class DataExportAdmin(AuditedAdmin):
    """Adding an export downloads the contract's JSON document (and records the export)."""

    form = ExportForm
    list_display = ("id", "pseudonym", "csp", "channel", "requested_by", "created_at")
    list_filter = ("channel", "csp")
    search_fields = ("pseudonym",)
    list_select_related = ("csp",)
    show_full_result_count = False
    readonly_fields = (
        "csp",
        "pseudonym",
        "channel",
        "requested_by",
        "requested_by_user",
        "created_at",
        "counts",
    )

    def get_fields(self, request: Any, obj: Any = None) -> Any:
        return ("contract_id",) if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request: Any, queryset: Any, search_term: str) -> tuple[Any, bool]:
        found = _pseudonym_search(queryset, search_term)
        if found is None:
            return super().get_search_results(request, queryset, search_term)
        return found, False

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        token = _as_staff(request)
        try:
            document = services.contract_export(
                contract_id=form.cleaned_data["contract_id"], csp_id=None, channel=Channel.ADMIN
            )
        finally:
            actor_var.reset(token)
        _copy(obj, DataExport.objects.get(pk=document["export_id"]))
        request.privacy_export_document = document

    def response_add(self, request: Any, obj: Any, post_url_continue: Any = None) -> Any:
        document = getattr(request, "privacy_export_document", None)
        if document is None:
            return super().response_add(request, obj, post_url_continue)
        response = HttpResponse(
            json.dumps(document, cls=DjangoJSONEncoder, indent=2), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="contract-export-{obj.pk}.json"'
        response["Cache-Control"] = "no-store"
        return response


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "state", "as_of", "started_at", "finished_at")
    list_filter = ("state",)
    fields = ("state", "as_of", "started_at", "finished_at", "counts", "error")
    readonly_fields = fields
    show_full_result_count = False
