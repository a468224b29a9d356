"""The finance pages: log in, list statements with filters and a chart, open one, download its
reports; hub finance staff also finalise statements and record payments (POST forms, CSRF
protected, through the services, which audit them). Another partner's statement answers 404."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from clearinghouse.context import Actor, actor_var
from clearinghouse.errors import DomainError
from clearinghouse.models import AuditEntry
from partners.models import Partner

from ..api.statements import report_response
from ..models import RunState, Statement, StatementState
from ..selectors.statements import (
    settled_per_period,
    statement_document,
    statement_get_visible,
    statement_lines,
    statements_visible,
)
from ..services.settlement_finalise import statement_finalise, statement_payment_record
from ..services.settlement_reports import FORMATS, statement_report_file
from .access import FinanceAccess, finance_access
from .chart import Series, bar_chart
from .forms import PaymentForm, StatementFilterForm

PAGE_SIZE = 50


class LoginView(auth_views.LoginView):
    template_name = "finance/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("finance:statements")


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("finance:login")


def finance_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in, and a finance user: hub staff or a partner's finance user; else 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        access = finance_access(request.user)
        if access is None:
            return render(request, "finance/forbidden.html", status=403)
        token = actor_var.set(
            Actor(
                user_id=request.user.pk,
                partner_id=access.partner_id,
                label=f"finance:{request.user.get_username()}",
            )
        )
        try:
            return view(request, access, *args, **kwargs)
        finally:
            actor_var.reset(token)

    return wrapped


def _statement(access: FinanceAccess, pk: int) -> Statement:
    statement = statement_get_visible(partner_id=access.partner_id, pk=pk)
    if statement is None:
        raise Http404("No such statement.")
    return statement


def _chart(access: FinanceAccess, currency: str) -> str:
    totals = settled_per_period(partner_id=access.partner_id, currency=currency)
    labels = [t.period_key for t in totals]
    if access.is_hub:
        series = [Series("Settled", [t.receivable for t in totals])]
        title = f"Settled amounts per period ({currency}, VAT included)"
    else:
        series = [
            Series("Receivable as CSO", [t.receivable for t in totals]),
            Series("Payable as CSP", [t.payable for t in totals]),
        ]
        title = f"Your settled amounts per period ({currency}, VAT included)"
    return mark_safe(bar_chart(labels, series, currency, title=title))  # noqa: S308  (escaped by bar_chart)


@require_GET
@finance_page
def statement_list(request: HttpRequest, access: FinanceAccess) -> HttpResponse:
    visible = statements_visible(partner_id=access.partner_id)
    currencies = Counter(visible.values_list("currency", flat=True))
    form = StatementFilterForm(request.GET or None, currencies=sorted(currencies), hub=access.is_hub)
    rows = visible.order_by("-period_start", "partner__name", "currency", "pk")
    chosen = ""
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["period"]:
            rows = rows.filter(period_key=data["period"])
        if data.get("partner"):
            rows = rows.filter(partner=data["partner"])
        if data["state"]:
            rows = rows.filter(state=data["state"])
        if data["currency"]:
            rows = rows.filter(currency=data["currency"])
            chosen = data["currency"]
    elif form.is_bound:
        rows = rows.none()
    if not chosen and currencies:
        chosen = currencies.most_common(1)[0][0]
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "access": access,
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "chart": _chart(access, chosen) if chosen else "",
        "chart_currency": chosen,
    }
    return render(request, "finance/statement_list.html", context)


@require_GET
@finance_page
def statement_detail(request: HttpRequest, access: FinanceAccess, pk: int) -> HttpResponse:
    statement = _statement(access, pk)
    lines = statement_lines(statement)
    others = Partner.objects.in_bulk({line.counterparty_id for line in lines})
    document = statement_document(statement)
    context = {
        "access": access,
        "statement": statement,
        "document": document,
        "lines": [(line, others[line.counterparty_id]) for line in lines],
        "fees": statement.fees.order_by("id"),
        "payments": statement.payments.order_by("id"),
        "formats": FORMATS,
        "can_finalise": access.can_finalise
        and statement.state == StatementState.DRAFT
        and statement.run.state == RunState.DONE,
        "can_pay": access.can_record_payment
        and statement.state in (StatementState.FINAL, StatementState.PARTIALLY_PAID),
        "payment_form": PaymentForm(initial={"amount": statement.outstanding}),
    }
    return render(request, "finance/statement_detail.html", context)


@require_GET
@finance_page
def statement_report(request: HttpRequest, access: FinanceAccess, pk: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("No such report format.")
    return report_response(statement_report_file(_statement(access, pk), fmt))


def _back(statement: Statement) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("finance:statement", kwargs={"pk": statement.pk}))


@require_POST
@finance_page
def statement_finalise_view(request: HttpRequest, access: FinanceAccess, pk: int) -> HttpResponse:
    statement = _statement(access, pk)
    if not access.can_finalise:
        return render(request, "finance/forbidden.html", status=403)
    try:
        done = statement_finalise(
            statement_id=statement.pk, user_id=request.user.pk, channel=AuditEntry.Channel.ADMIN
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Statement {done.number} is final.")
    return _back(statement)


@require_POST
@finance_page
def statement_payment_view(request: HttpRequest, access: FinanceAccess, pk: int) -> HttpResponse:
    statement = _statement(access, pk)
    if not access.can_record_payment:
        return render(request, "finance/forbidden.html", status=403)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the amount paid (and a reference of at most 140 characters).")
        return _back(statement)
    try:
        paid = statement_payment_record(
            statement_id=statement.pk,
            amount=form.cleaned_data["amount"],
            reference=form.cleaned_data["reference"],
            user_id=request.user.pk,
            channel=AuditEntry.Channel.ADMIN,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Payment recorded: the statement is {paid.get_state_display().lower()}.")
    return _back(statement)
