"""Steps: the settlement run of the period (`manage.py settlement_run --period YYYY-MM`, as a
subprocess with the hub's environment), each partner's statement read over the API, and the
statements' reports (CSV, XLSX, PDF) written to the output folder."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..context import Demo
from ..hub import Partner, manage_text
from ..report import Step, StepFailed
from ..wait import wait_for
from .sdrs import label_of, sdr_id_of

SETTLE_TIMEOUT = 30.0
MAGIC = {"pdf": b"%PDF-", "xlsx": b"PK\x03\x04"}


def _expected(demo: Demo) -> dict[tuple[str, str], tuple[int, Decimal]]:
    """(cso key, csp key) -> (SDRs settled, amount excl. VAT): every SDR counts, credits included;
    the overcharged original and its credit net to zero, the replacement bills the right cost."""
    pairs: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for label, facts in demo.sessions.items():
        start = demo.starts[label]
        pair = pairs[(start.cso, start.csp)]
        excl, _ = facts.tariff.cost(facts.kwh)
        corrected = f"{sdr_id_of(demo, label)}-R" in demo.sdr_ids
        pair[0] += 3 if corrected else 1  # original, its credit, its replacement
        pair[1] += excl
    return {k: (v[0], v[1]) for k, v in pairs.items()}


def _statement(partner: Partner, period: str) -> dict[str, Any] | None:
    answer = partner.api.get(f"/statements/?period={period}&currency=EUR")
    if not answer.ok or not answer.body.get("results"):
        return None
    listed = answer.body["results"][0]
    detail = partner.api.get(f"/statements/{listed['id']}")
    return detail.body if detail.ok else None


def _settled(demo: Demo) -> list[str]:
    states = []
    for sdr_id, hub_id in demo.sdr_ids.items():
        cso = demo.partner(demo.starts[label_of(demo, sdr_id)].cso)
        answer = cso.api.get(f"/sdrs/{hub_id}")
        states.append(answer.body.get("state", "?") if answer.ok else f"HTTP {answer.status}")
    return states


def run(demo: Demo, step: Step) -> None:
    code, output = manage_text("settlement_run", "--period", demo.period, "--currency", "EUR")
    last = output.strip().splitlines()[-1] if output.strip() else ""
    # Exit 0 is the command's part; whether the day's SDRs were settled is checked below (the hourly
    # job may have taken the run a moment earlier, and then this run finds nothing left to settle).
    step.check(f"manage.py settlement_run --period {demo.period} --currency EUR exits 0", 0, code)
    if code != 0:
        raise StepFailed(f"settlement_run refused the period {demo.period}: {last}")
    states = wait_for(lambda: s if set(s := _settled(demo)) == {"SETTLED"} else None, timeout=SETTLE_TIMEOUT)
    states = states or _settled(demo)
    settled = step.check(
        f"all {len(demo.sdr_ids)} SDRs of the day are SETTLED", ["SETTLED"], sorted(set(states))
    )
    if not settled and "closed" in output:
        step.count(f"{demo.period} has final statements already: its late SDRs wait for the next period")
    expected = _expected(demo)
    demo_statements = demo.statements
    for key, partner in demo.partners.items():
        statement = _statement(partner, demo.period)
        if not step.check_that(
            f"{partner.ident} has a statement for {demo.period}", statement is not None, "one", "none"
        ):
            continue
        assert statement is not None
        demo_statements[key] = statement
        role = partner.role
        mine = {pair: v for pair, v in expected.items() if pair[0 if role == "CSO" else 1] == key}
        want = {
            demo.partner(pair[1] if role == "CSO" else pair[0]).ident: (
                count,
                str(amount.quantize(Decimal("0.01"))),
            )
            for pair, (count, amount) in mine.items()
        }
        got = {
            line["counterparty"]["id"]: (line["sdr_count"], _cents(line["amount_excl_vat"]))
            for line in statement.get("lines", [])
        }
        step.check(f"{partner.ident}'s statement: SDRs and amount excl. VAT per counterparty", want, got)
        step.check(
            f"{partner.ident}'s statement holds nothing back as disputed",
            "0.00",
            _cents(statement.get("disputed_held_incl_vat")),
        )
    total = sum(Decimal(_cents(s.get("receivable_as_cso"))) for s in demo_statements.values())
    step.count(
        f"period {demo.period} settled: {len(demo.sdr_ids)} SDRs, {len(demo_statements)} draft statements "
        f"(CSOs receivable {total} EUR)"
    )
    step.count(f"settlement_run said: {last}")


def _cents(value: Any) -> str:
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except Exception:
        return str(value)


def _filename(headers: dict[str, str], fallback: str) -> str:
    match = re.search(r'filename="?([^";]+)"?', headers.get("Content-Disposition", ""))
    name = match.group(1) if match else fallback
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def reports(demo: Demo, step: Step) -> None:
    statements = demo.statements
    if not statements:
        raise StepFailed("no statement to report on")
    demo.out_dir.mkdir(parents=True, exist_ok=True)
    sizes: list[int] = []
    for key, statement in statements.items():
        partner = demo.partner(key)
        for fmt in ("csv", "xlsx", "pdf"):
            status, data, headers = partner.api.get_raw(f"/statements/{statement['id']}/report.{fmt}")
            name = _filename(headers, f"statement-{statement['id']}.{fmt}")
            good = status == 200 and len(data) > 0
            if fmt in MAGIC:
                good = good and data.startswith(MAGIC[fmt])
            else:
                text = data.decode("utf-8", errors="replace")
                own = [sid for sid in demo.sdr_ids if _pays_or_bills(demo, key, sid)]
                good = good and all(sid in text for sid in own)
            step.check_that(
                f"{partner.ident} GET /statements/{statement['id']}/report.{fmt}",
                good,
                f"200, a {fmt.upper()} file" + (" listing the partner's SDRs" if fmt == "csv" else ""),
                f"{status}, {len(data)} bytes, starts {data[:8]!r}",
            )
            if status == 200:
                path: Path = demo.out_dir / name
                path.write_bytes(data)
                demo.reports.append(path)
                sizes.append(len(data))
    step.count(f"{len(demo.reports)} report files ({sum(sizes) // 1024} KiB) written to {demo.out_dir}")


def _pays_or_bills(demo: Demo, key: str, sdr_id: str) -> bool:
    start = demo.starts[label_of(demo, sdr_id)]
    return key in (start.cso, start.csp)
