"""The finance pages with Django's test client: who gets in, what each sees, filters, the chart,
downloads, and staff finalising and recording payments through CSRF-protected forms."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from clearinghouse.models import AuditEntry
from settlement.finance.chart import Series, _ceiling, bar_chart
from settlement.models import FinanceUser, Statement
from tests.settlement import test_settlement_support as support
from tests.settlement.test_settlement_support import D, run_period

pytestmark = pytest.mark.django_db

# The shared fixtures: temporary MEDIA_ROOT (autouse) and the September scenario.
_media = support._media
scenario = support.scenario
PASSWORD = "finance-password-1"


def user(username, *, staff=False, perms=(), partner=None):
    u = get_user_model().objects.create_user(
        username, f"{username}@example.invalid", PASSWORD, is_staff=staff
    )
    for codename in perms:
        u.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label="settlement")
        )
    if partner is not None:
        FinanceUser.objects.create(user=u, partner=partner)
    return u


def logged_in(u, **kw):
    client = Client(**kw)
    client.force_login(u)
    return client


@pytest.fixture
def pages(scenario):
    run_period("2026-09", "EUR")
    run_period("2026-09", "CHF")
    scenario.alpha_user = user("alpha-finance", partner=scenario.a)
    scenario.staff = user(
        "hub-finance", staff=True, perms=("view_statement", "finalise_statement", "record_statement_payment")
    )
    return scenario


def test_login_page_and_redirects(pages):
    client = Client()
    r = client.get("/finance/")
    assert r.status_code == 302 and r["Location"].startswith("/finance/login/")
    assert client.get("/finance/login/").status_code == 200
    r = client.post("/finance/login/", {"username": "alpha-finance", "password": "wrong"})
    assert r.status_code == 200 and b"errorlist" in r.content
    r = client.post("/finance/login/", {"username": "alpha-finance", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/finance/"
    assert b"Alpha Charge" in client.get("/finance/").content
    r = client.post("/finance/logout/")
    assert r.status_code == 302 and client.get("/finance/").status_code == 302


def test_a_user_without_finance_access_is_refused(pages):
    for u in (user("nobody"), user("plain-staff", staff=True)):
        assert logged_in(u).get("/finance/").status_code == 403


def test_a_partner_sees_its_statements_and_not_others(pages):
    client = logged_in(pages.alpha_user)
    page = client.get("/finance/").content.decode()
    mine = Statement.objects.filter(partner=pages.a)
    assert all(f"/finance/statements/{s.pk}/" in page for s in mine)
    assert "<svg" in page and "Receivable as CSO" in page
    for other in Statement.objects.exclude(partner=pages.a):
        assert f"/finance/statements/{other.pk}/" not in page
        assert client.get(f"/finance/statements/{other.pk}/").status_code == 404
        assert client.get(f"/finance/statements/{other.pk}/report.pdf").status_code == 404
    assert client.get("/finance/?partner=1").status_code == 200  # not a filter for partners: ignored


def test_statement_page_shows_totals_lines_fees_netting_and_downloads(pages):
    statement = Statement.objects.get(partner=pages.a, currency="EUR")
    client = logged_in(pages.alpha_user)
    page = client.get(f"/finance/statements/{statement.pk}/").content.decode()
    for needle in ("84.29", "1.86", "82.43", "36.69", "47.60", "Beta Mobility", "Transaction fee as CSO",
                   "Clearing fee as CSO", "pays Alpha Charge 82.43 EUR", "Download CSV", "Download XLSX",
                   "Download PDF"):  # fmt: skip
        assert needle in page, needle
    assert 'id="finalise"' not in page  # partners do not finalise
    for fmt, start in (("csv", b"statement,number,DRAFT"), ("xlsx", b"PK"), ("pdf", b"%PDF")):
        r = client.get(f"/finance/statements/{statement.pk}/report.{fmt}")
        assert r.status_code == 200 and b"".join(r.streaming_content).startswith(start)
    assert client.get(f"/finance/statements/{statement.pk}/report.exe").status_code == 404


def test_staff_filter_every_partner(pages):
    client = logged_in(pages.staff)
    page = client.get("/finance/").content.decode()
    assert page.count("/finance/statements/") == Statement.objects.count() == 5
    page = client.get("/finance/", {"currency": "CHF", "partner": pages.b.pk}).content.decode()
    assert page.count("/finance/statements/") == 1 and "Settled amounts per period (CHF)" in page
    page = client.get("/finance/", {"period": "2026-13"}).content.decode()
    assert "not a period key" in page and page.count("/finance/statements/") == 0
    assert client.get("/finance/", {"state": "FINAL"}).content.decode().count("/finance/statements/") == 0


def test_staff_finalise_and_record_payments_with_csrf(pages):
    statement = Statement.objects.get(partner=pages.b, currency="EUR")
    client = logged_in(pages.staff, enforce_csrf_checks=True)
    assert client.post(f"/finance/statements/{statement.pk}/finalise").status_code == 403  # no token
    page = client.get(f"/finance/statements/{statement.pk}/")
    token = page.cookies["csrftoken"].value
    assert 'id="finalise"' in page.content.decode()
    r = client.post(
        f"/finance/statements/{statement.pk}/finalise", {"csrfmiddlewaretoken": token}, follow=True
    )
    statement.refresh_from_db()
    assert statement.state == "FINAL" and f"Statement {statement.number} is final." in r.content.decode()
    entry = AuditEntry.objects.get(action="statement.finalise")
    assert (entry.channel, entry.actor_label, entry.actor_user_id) == (
        "ADMIN",
        "finance:hub-finance",
        pages.staff.pk,
    )
    url = f"/finance/statements/{statement.pk}/payments"
    r = client.post(url, {"csrfmiddlewaretoken": token, "amount": "100.00"}, follow=True)
    assert "Only 63.75 EUR is outstanding." in r.content.decode()
    r = client.post(
        url, {"csrfmiddlewaretoken": token, "amount": "63.75", "reference": "SEPA 42"}, follow=True
    )
    statement.refresh_from_db()
    assert statement.state == "PAID" and "the statement is paid" in r.content.decode()
    assert AuditEntry.objects.filter(action="statement.payment", channel="ADMIN").count() == 1


def test_partners_cannot_finalise_or_pay(pages):
    statement = Statement.objects.get(partner=pages.a, currency="EUR")
    client = logged_in(pages.alpha_user)
    assert client.post(f"/finance/statements/{statement.pk}/finalise").status_code == 403
    assert client.post(f"/finance/statements/{statement.pk}/payments", {"amount": "1"}).status_code == 403
    assert client.get(f"/finance/statements/{statement.pk}/finalise").status_code == 405
    statement.refresh_from_db()
    assert statement.state == "DRAFT"


def test_the_chart_is_escaped_svg():
    svg = bar_chart(["<b>", "2026-10"], [Series("A&B", [D("12.5"), D("-3")])], "EUR", title="t<i>")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "A&amp;B" in svg and "t&lt;i&gt;" in svg
    assert bar_chart([], [], "EUR", title="x") == ""
    assert [_ceiling(D(v)) for v in ("0", "0.7", "3", "12.5", "99", "101")] == [1, 1, 5, 20, 100, 200]
