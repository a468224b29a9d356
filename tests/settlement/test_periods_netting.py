"""Settlement periods, money rounding and netting (framework-free)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement.money import round_money, with_vat
from settlement.netting import FeeTotal, PairTotal, net_positions, payment_instruction
from settlement.periods import Cadence, first_open_period, parse_period_key, period_containing

D = Decimal


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_monthly_period():
    p = period_containing(utc(2026, 11, 26, 13, 5), Cadence.MONTHLY)
    assert (p.start, p.end, p.key) == (utc(2026, 11, 1), utc(2026, 12, 1), "2026-11")
    assert period_containing(utc(2026, 12, 31, 23, 59), "MONTHLY").end == utc(2027, 1, 1)


def test_weekly_period_is_iso_week():
    p = period_containing(utc(2026, 11, 26), Cadence.WEEKLY)
    assert p.start == utc(2026, 11, 23) and p.end == utc(2026, 11, 30) and p.key == "2026-W48"
    # ISO week 1 of 2027 starts on Monday 2027-01-04; 2027-01-01 is in 2026-W53.
    assert period_containing(utc(2027, 1, 1), Cadence.WEEKLY).key == "2026-W53"


def test_daily_period_and_half_open_boundaries():
    p = period_containing(utc(2026, 11, 26, 0, 0), Cadence.DAILY)
    assert p.key == "2026-11-26"
    assert p.contains(utc(2026, 11, 26)) and not p.contains(utc(2026, 11, 27))
    assert p.next().key == "2026-11-27" and p.previous().key == "2026-11-25"


def test_local_times_are_converted_to_utc():
    from zoneinfo import ZoneInfo

    moment = datetime(2026, 12, 1, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # 2026-11-30 23:30 UTC
    assert period_containing(moment, Cadence.MONTHLY).key == "2026-11"


def test_naive_moment_refused():
    with pytest.raises(ValueError):
        period_containing(datetime(2026, 1, 1), Cadence.DAILY)


@pytest.mark.parametrize("key", ["2026-11", "2026-W48", "2026-11-26", "2026-02"])
def test_keys_round_trip(key):
    assert parse_period_key(key).key == key


@pytest.mark.parametrize("key", ["", "2026-13", "2026-W60", "2026-02-30", "Nov 2026", "2026/11"])
def test_bad_keys_refused(key):
    with pytest.raises(ValueError):
        parse_period_key(key)


def test_closing_with_grace():
    p = parse_period_key("2026-11")
    assert p.closes_at(2) == utc(2026, 12, 3)
    assert not p.is_closed(utc(2026, 12, 2, 23, 59), 2)
    assert p.is_closed(utc(2026, 12, 3), 2)


def test_late_sdr_falls_into_the_next_open_period():
    final = {"2026-10", "2026-11"}
    p = first_open_period(utc(2026, 10, 15), Cadence.MONTHLY, is_final=lambda q: q.key in final)
    assert p.key == "2026-12"
    assert first_open_period(utc(2026, 12, 15), Cadence.MONTHLY, is_final=lambda q: False).key == "2026-12"


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(list(Cadence)),
)
def test_periods_tile_time(moment, cadence):
    p = period_containing(moment, cadence)
    assert p.contains(moment)
    assert p.next().start == p.end
    assert p.previous().end == p.start
    assert parse_period_key(p.key) == p


def test_rounding_to_minor_units():
    assert round_money(D("1.005"), "EUR") == D("1.01")
    assert round_money(D("1.004"), "EUR") == D("1.00")
    assert round_money(D("1234.5"), "JPY") == D("1235")
    assert round_money(D("1.0005"), "BHD") == D("1.001")
    assert with_vat(D("10.00"), D("19"), "EUR") == (D("10.00"), D("1.90"), D("11.90"))


def test_netting_hand_computed():
    # Partner 1 is a CSO owed 100.00 by partner 2 and 50.00 by partner 3; partner 3 is also a CSO
    # owed 20.00 by partner 2. Fees: 1 pays 3.00, 2 pays 1.50, 3 pays 0.70.
    pairs = [
        PairTotal(1, 2, "EUR", D("100.00")),
        PairTotal(1, 3, "EUR", D("50.00")),
        PairTotal(3, 2, "EUR", D("20.00")),
    ]
    fees = [FeeTotal(1, "EUR", D("3.00")), FeeTotal(2, "EUR", D("1.50")), FeeTotal(3, "EUR", D("0.70"))]
    positions = {p.partner_id: p for p in net_positions(pairs, fees)}
    assert positions[1].net == D("147.00")  # 150 - 0 - 3
    assert positions[2].net == D("-121.50")  # 0 - 120 - 1.50
    assert positions[3].net == D("-30.70")  # 20 - 50 - 0.70
    assert sum(p.net for p in positions.values()) + D("5.20") == 0
    assert payment_instruction(positions[1]).payer == "HUB"
    assert payment_instruction(positions[2]).amount == D("121.50")
    assert payment_instruction(positions[2]).payer == "PARTNER"


def test_currencies_are_netted_apart():
    positions = net_positions(
        [PairTotal(1, 2, "EUR", D("10")), PairTotal(1, 2, "CHF", D("7"))], [FeeTotal(2, "CHF", D("1"))]
    )
    assert {(p.partner_id, p.currency, p.net) for p in positions} == {
        (1, "CHF", D("7.00")),
        (1, "EUR", D("10.00")),
        (2, "CHF", D("-8.00")),
        (2, "EUR", D("-10.00")),
    }


def test_zero_position_needs_no_payment():
    (pos,) = [p for p in net_positions([], [FeeTotal(1, "EUR", D("0"))])]
    assert payment_instruction(pos) is None


amounts = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)


@given(
    st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5), amounts), max_size=30),
    st.lists(st.tuples(st.integers(1, 5), amounts), max_size=10),
)
def test_positions_always_balance(pair_specs, fee_specs):
    pairs = [PairTotal(c, p, "EUR", a) for c, p, a in pair_specs if c != p]
    fees = [FeeTotal(p, "EUR", a) for p, a in fee_specs]
    total = sum((p.net for p in net_positions(pairs, fees)), D(0))
    assert total + sum((f.amount_incl_vat for f in fees), D(0)) == 0
