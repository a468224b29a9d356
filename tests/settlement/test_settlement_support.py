"""Builders shared by the settlement run tests (this module holds no tests itself).

SDRs are written straight into the table in the state a test needs (the SDR tests cover how they
get there). The scenario, September 2026, with amounts worked out by hand:

    partners: Alpha (DE*ACH, CSO), Beta (NL-BMO, CSP), Gamma (FR*GRO / FR-GRO, both roles)
    fee plans: Alpha as CSO 0.10 per SDR + 1.5 %, VAT 19 %
               Beta as CSP 0.05 per SDR, VAT 21 %
               Gamma as CSO 2 %, as CSP 0.20 per SDR, VAT 20 %

    EUR line Alpha ← Beta: a1 10.0000/11.9000, a2 20.5000/24.3950, a3 0.3333/0.3966,
        a4 5.0000/5.9500 and its credit a4c -5.0000/-5.9500
        excl 30.8333 → 30.83; incl 36.6916 → 36.69; VAT 5.86; 5 SDRs, 1 credit (5.95)
        energy 20 + 41.5 + 1.111 + 10 - 10 = 62.611 kWh
    EUR line Alpha ← Gamma: g1 40.0000/47.6000 → 40.00 / 47.60, VAT 7.60; 80 kWh
    EUR line Gamma ← Beta: b1 15.0000/18.0000, b2 7.2500/8.7000 → 22.25 / 26.70, VAT 4.45;
        44.5 kWh; held back: d1 9.0000/10.8000 (disputed) → 10.80
    CHF line Alpha ← Beta: h1 100.0000/108.1000 → 100.00 / 108.10; 150 kWh
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from partners.models import Partner
from settlement.models import FeePlan, Sdr, SdrState
from settlement.services.settlement_run import settlement_run_execute, settlement_run_request
from tests.support import Onboarded, onboard

D = Decimal
SEPTEMBER = datetime(2026, 9, 10, 12, 0, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 10, 12, 0, tzinfo=UTC)
_numbers = count(1)


def contract(partner: Partner, n: int = 1) -> str:
    from clearinghouse.lib.identifiers import make_contract_id

    return make_contract_id(partner.country_code, partner.party_id, f"C{n:08d}")


def make_sdr(
    cso: Partner,
    csp: Partner,
    excl: str,
    incl: str | None,
    energy: str = "10",
    *,
    end: datetime = SEPTEMBER,
    currency: str = "EUR",
    state: str = SdrState.ACCEPTED,
    credit_of: Sdr | None = None,
    sdr_id: str | None = None,
    contract_id: str | None = None,
) -> Sdr:
    """An SDR as intake would have stored it, in `state`; a credit when `credit_of` is given."""
    sdr_id = sdr_id or f"SDR-{next(_numbers)}"
    return Sdr.objects.create(
        cso=cso,
        csp=csp,
        sdr_id=sdr_id,
        content_hash=hashlib.sha256(sdr_id.encode()).hexdigest(),
        state=state,
        credit=credit_of is not None,
        credit_of=credit_of,
        credit_reference_id=credit_of.sdr_id if credit_of else "",
        session_id=f"S-{sdr_id}",
        contract_id=contract_id or contract(csp),
        evse_id=f"{cso.operator_id}*E1",
        start_date_time=end - timedelta(hours=1),
        end_date_time=end,
        currency=currency,
        total_cost_excl_vat=D(excl),
        total_cost_incl_vat=None if incl is None else D(incl),
        total_energy=D(energy),
        total_time=D("1"),
        cdr={"id": sdr_id},
        accepted_at=end + timedelta(days=1) if state == SdrState.ACCEPTED else None,
    )


def fee_plan(partner: Partner, **rates: Any) -> FeePlan:
    return FeePlan.objects.create(
        partner=partner, **{k: D(str(v)) if k != "cadence" else v for k, v in rates.items()}
    )


class Scenario:
    """The hand-computed September 2026 scenario (see the module docstring)."""

    def __init__(self, alpha: Onboarded, beta: Onboarded, gamma: Onboarded) -> None:
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        a, b, g = alpha.partner, beta.partner, gamma.partner
        self.a, self.b, self.g = a, b, g
        fee_plan(a, cso_fee_per_sdr="0.10", cso_fee_percent="1.5", vat_percent="19")
        fee_plan(b, csp_fee_per_sdr="0.05", vat_percent="21")
        fee_plan(g, cso_fee_percent="2", csp_fee_per_sdr="0.20", vat_percent="20")
        self.a1 = make_sdr(a, b, "10.0000", "11.9000", "20")
        self.a2 = make_sdr(a, b, "20.5000", "24.3950", "41.5")
        self.a3 = make_sdr(a, b, "0.3333", "0.3966", "1.111")
        self.a4 = make_sdr(a, b, "5.0000", "5.9500", "10")
        self.a4c = make_sdr(a, b, "-5.0000", "-5.9500", "10", credit_of=self.a4)
        self.g1 = make_sdr(a, g, "40.0000", "47.6000", "80")
        self.b1 = make_sdr(g, b, "15.0000", "18.0000", "30")
        self.b2 = make_sdr(g, b, "7.2500", "8.7000", "14.5")
        self.d1 = make_sdr(g, b, "9.0000", "10.8000", "18", state=SdrState.DISPUTED)
        self.h1 = make_sdr(a, b, "100.0000", "108.1000", "150", currency="CHF")
        # Not this run's: still delivered, already rejected, and of October.
        make_sdr(a, b, "1.0000", "1.1900", state=SdrState.DELIVERED)
        self.october = make_sdr(a, b, "4.0000", "4.7600", "8", end=OCTOBER)

    @property
    def eur_sdrs(self) -> list[Sdr]:
        return [self.a1, self.a2, self.a3, self.a4, self.a4c, self.g1, self.b1, self.b2]


def run_period(period: str, currency: str = "EUR") -> Any:
    run = settlement_run_request(period_key=period, currency=currency)
    return settlement_run_execute(run_id=run.pk)


@pytest.fixture
def scenario(db: Any) -> Scenario:
    alpha = onboard(name="Alpha Charge", country="DE", party="ACH", roles=["CSO"])
    beta = onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"])
    gamma = onboard(name="Gamma Roaming", country="FR", party="GRO", roles=["CSO", "CSP"])
    return Scenario(alpha, beta, gamma)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    # Stored reports go to a temporary MEDIA_ROOT, never into the working tree.
    settings.MEDIA_ROOT = str(tmp_path / "media")
