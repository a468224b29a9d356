"""Settlement in the operator console: fee plans, partner finance users, runs (with a "run
settlement" page), statements (read-only, with finalising as an action). Writes go through the
services; lines and settled SDRs are shown, never edited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from clearinghouse.admin_mixins import AuditedAdmin, ReadOnlyAdmin
from clearinghouse.audit import audit_record
from clearinghouse.context import Actor, actor_var
from clearinghouse.errors import DomainError
from clearinghouse.models import AuditEntry

from ..models import FeePlan, FinanceUser, SettlementRun, Statement, StatementLine
from ..periods import parse_period_key
from ..selectors.statements import statement_lines
from ..services.settlement_finalise import statement_finalise
from ..services.settlement_run import (
    currencies_to_settle,
    settlement_run_request,
    settlement_run_start,
)


def _as_staff(request: HttpRequest) -> Any:
    return actor_var.set(Actor(user_id=request.user.pk, label=f"staff:{request.user.get_username()}"))


@admin.register(FeePlan)
class FeePlanAdmin(AuditedAdmin):
    list_display = (
        "partner",
        "cadence",
        "cso_fee_per_sdr",
        "cso_fee_percent",
        "csp_fee_per_sdr",
        "csp_fee_percent",
        "vat_percent",
        "updated_at",
    )
    list_filter = ("cadence",)
    list_select_related = ("partner",)
    search_fields = ("partner__name", "partner__party_id")
    raw_id_fields = ("partner",)
    fieldsets = (
        (None, {"fields": ("partner", "cadence")}),
        ("As CSO", {"fields": ("cso_fee_per_sdr", "cso_fee_percent")}),
        ("As CSP", {"fields": ("csp_fee_per_sdr", "csp_fee_percent")}),
        ("VAT", {"fields": ("vat_percent",)}),
    )


@admin.register(FinanceUser)
class FinanceUserAdmin(AuditedAdmin):
    list_display = ("user", "partner", "created_at")
    list_select_related = ("user", "partner")
    search_fields = ("user__username", "user__email", "partner__name", "partner__party_id")
    raw_id_fields = ("user", "partner")
    readonly_fields = ("created_at",)


class LineInline(admin.TabularInline):
    model = StatementLine
    extra = 0
    can_delete = False
    fields = (
        "cso",
        "csp",
        "sdr_count",
        "credit_count",
        "energy_kwh",
        "amount_excl_vat",
        "amount_incl_vat",
        "credits_incl_vat",
        "disputed_count",
        "disputed_incl_vat",
    )
    readonly_fields = fields

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class RunForm(forms.Form):
    period = forms.CharField(help_text="2026-11 (month), 2026-W48 (ISO week) or 2026-11-26 (day)")
    currency = forms.CharField(
        required=False, max_length=3, help_text="empty: every currency with SDRs to settle"
    )

    def clean_period(self) -> str:
        try:
            return parse_period_key(self.cleaned_data["period"]).key
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()


@admin.register(SettlementRun)
class SettlementRunAdmin(ReadOnlyAdmin):
    list_display = (
        "period_key",
        "cadence",
        "currency",
        "state",
        "sdr_count",
        "statement_count",
        "attempts",
        "heartbeat_at",
        "finished_at",
        "closed_at",
        "requested_by",
    )
    list_filter = ("state", "cadence", "currency")
    search_fields = ("=period_key",)
    fields = (
        ("period_key", "cadence", "currency"),
        ("period_start", "period_end"),
        ("state", "attempts", "requested_by"),
        ("started_at", "heartbeat_at", "finished_at", "closed_at"),
        ("sdr_count", "statement_count"),
        "error",
    )
    inlines = (LineInline,)
    actions = ("run_again",)
    change_list_template = "finance/admin/run_changelist.html"

    def get_urls(self) -> list[Any]:
        run = self.admin_site.admin_view(self.run_view)
        return [path("run/", run, name="settlement_settlementrun_run"), *super().get_urls()]

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("settlement.change_settlementrun")

    @admin.action(
        description="Run selected runs again (resume failed ones, add late SDRs to drafts)",
        permissions=["run"],
    )
    def run_again(self, request: HttpRequest, queryset: QuerySet[SettlementRun]) -> None:
        started = [run for run in queryset if run.closed_at is None]
        token = _as_staff(request)
        try:
            for run in started:
                audit_record(
                    action="settlement.run_again",
                    channel=AuditEntry.Channel.ADMIN,
                    obj=run,
                    user_id=request.user.pk,
                )
                settlement_run_start(run=run)
        finally:
            actor_var.reset(token)
        if started:
            self.message_user(request, f"Started {len(started)} run(s).", messages.SUCCESS)
        if len(started) < queryset.count():
            self.message_user(
                request, "Closed runs (with a final statement) are not run again.", messages.WARNING
            )

    def run_view(self, request: HttpRequest) -> HttpResponse:
        """Staff start the settlement of a period: one run per currency, executed by a worker."""
        if not self.has_run_permission(request):
            raise PermissionDenied
        form = RunForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            token = _as_staff(request)
            try:
                period = parse_period_key(form.cleaned_data["period"])
                currencies = [form.cleaned_data["currency"]] if form.cleaned_data["currency"] else None
                runs = [
                    settlement_run_request(
                        period_key=period.key,
                        currency=currency,
                        requested_by=f"staff:{request.user.get_username()}",
                    )
                    for currency in currencies or currencies_to_settle(period=period)
                ]
                for run in runs:
                    settlement_run_start(run=run)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                if runs:
                    names = ", ".join(f"{run.period_key} {run.currency}" for run in runs)
                    self.message_user(request, f"Settlement started: {names}.", messages.SUCCESS)
                else:
                    self.message_user(request, f"Nothing to settle for {period.key}.", messages.INFO)
                return HttpResponseRedirect(reverse("admin:settlement_settlementrun_changelist"))
            finally:
                actor_var.reset(token)
        context = {
            **self.admin_site.each_context(request),
            "title": "Run settlement",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "finance/admin/run_settlement.html", context)


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "partner",
        "period_key",
        "currency",
        "state",
        "receivable_as_cso",
        "payable_as_csp",
        "hub_fees",
        "net",
        "paid_amount",
        "issued_at",
    )
    list_filter = ("state", "currency", "cadence", "period_key")
    list_select_related = ("partner",)
    search_fields = ("=number", "partner__name", "=partner__party_id")
    search_help_text = "number (exact), partner name or party id"
    show_full_result_count = False
    fields = (
        ("number", "state"),
        ("partner", "run"),
        ("period_key", "cadence", "currency"),
        ("period_start", "period_end"),
        ("sdr_count", "energy_kwh"),
        ("receivable_as_cso", "payable_as_csp", "hub_fees", "net"),
        ("payer", "payment_amount", "paid_amount", "paid_at"),
        "disputed_held_incl_vat",
        ("computed_at", "issued_at"),
        ("report_csv", "report_xlsx", "report_pdf"),
        "lines_table",
        "fees_table",
    )
    readonly_fields = ("lines_table", "fees_table")
    actions = ("finalise",)

    def has_finalise_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("settlement.finalise_statement")

    @admin.display(description="lines")
    def lines_table(self, obj: Statement) -> str:
        cells = [
            (
                line.role,
                line.counterparty_id,
                line.sums.sdr_count,
                line.amount_excl_vat,
                line.amount_incl_vat,
                line.disputed_held_incl_vat,
            )
            for line in statement_lines(obj)
        ]
        rows = format_html_join("", "<tr>" + "<td>{}</td>" * 6 + "</tr>", cells)
        titles = ("role", "counterparty (partner id)", "SDRs", "excl. VAT", "incl. VAT", "held back")
        head = format_html_join("", "<th>{}</th>", ((title,) for title in titles))
        return format_html("<table><tr>{}</tr>{}</table>", head, rows)

    @admin.display(description="hub fees")
    def fees_table(self, obj: Statement) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((f.description, f.basis, f.amount_excl_vat, f.amount_incl_vat) for f in obj.fees.order_by("id")),
        )
        return format_html("<table>{}</table>", rows) if obj.fees.exists() else "-"

    @admin.action(
        description="Finalise selected statements (numbers them, locks them)", permissions=["finalise"]
    )
    def finalise(self, request: HttpRequest, queryset: QuerySet[Statement]) -> None:
        token = _as_staff(request)
        done, refused = 0, []
        try:
            for statement in queryset.order_by("pk"):
                try:
                    statement_finalise(
                        statement_id=statement.pk, user_id=request.user.pk, channel=AuditEntry.Channel.ADMIN
                    )
                    done += 1
                except DomainError as exc:
                    refused.append(f"{statement}: {exc.message}")
        finally:
            actor_var.reset(token)
        if done:
            self.message_user(request, f"Finalised {done} statement(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)
