"""Steps: the CSOs send the SDRs of the day's sessions (OCPI CDRs) in bulk, a few with mistakes the
hub rejects or flags; the CSPs receive them and accept, one is disputed over its cost and corrected by
its CSO with a credit and a replacement, which the CSP then accepts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from ..context import Demo
from ..hub import Partner
from ..ocpi import cdr
from ..report import Step, StepFailed
from ..wait import wait_for

DELIVERY_TIMEOUT = 15.0
FLAGGED = "S-C"  # its CSO overcharges by 3.00: the hub flags COST_MISMATCH, the CSP disputes
OVERCHARGE = Decimal("3.00")


def sdr_id_of(demo: Demo, label: str) -> str:
    return f"CDR-{demo.sessions[label].session_id}"


def _codes(result: dict[str, Any]) -> list[str]:
    findings = (((result.get("error") or {}).get("details") or {}).get("findings")) or []
    return sorted(f["code"] for f in findings)


def _sdr(partner: Partner, hub_id: int) -> dict[str, Any]:
    answer = partner.api.get(f"/sdrs/{hub_id}")
    return answer.body if answer.ok else {}


def intake(demo: Demo, step: Step) -> None:
    if not demo.sessions:
        raise StepFailed("no completed session to bill")
    batches: dict[str, list[dict[str, Any]]] = {"cso1": [], "cso2": []}
    for label, facts in demo.sessions.items():
        offset = OVERCHARGE if label == FLAGGED else Decimal(0)
        batches[demo.starts[label].cso].append(cdr(facts, sdr_id_of(demo, label), cost_offset=offset))
    # Mistakes: an SDR that ends before it starts, and one at an EVSE its CSO never published.
    template = dict(batches["cso1"][0])
    unlinked = {**template, "session_id": None, "authorization_reference": None}
    backwards = {
        **unlinked,
        "id": f"CDR-BACKWARDS-{demo.suffix}",
        "start_date_time": template["end_date_time"],
        "end_date_time": template["start_date_time"],
    }
    nowhere = f"{demo.partner('cso1').operator_id}*E999*9"
    stranger = {
        **unlinked,
        "id": f"CDR-NOWHERE-{demo.suffix}",
        "cdr_location": {**template["cdr_location"], "evse_id": nowhere},
    }
    batches["cso1"] += [backwards, stranger]
    expected_rejections = {
        backwards["id"]: "END_BEFORE_START",
        stranger["id"]: "EVSE_NOT_OWNED",
    }
    created = 0
    for key, items in batches.items():
        cso = demo.partner(key)
        answer = cso.api.post("/sdrs/", items)
        if not answer.ok:
            step.check(
                f"{cso.ident} POST /sdrs/ with {len(items)} SDRs",
                200,
                f"{answer.status} {str(answer.body)[:200]}",
            )
            continue
        rejected = sum(1 for i in items if i["id"] in expected_rejections)
        step.check(
            f"{cso.ident} sends {len(items)} SDRs in one request, answered per item",
            {
                "created": len(items) - rejected,
                "existing": 0,
                "rejected": rejected,
                "conflict": 0,
                "invalid": 0,
            },
            answer.body["summary"],
        )
        for result in answer.body["results"]:
            sdr_id = result["sdr_id"]
            if sdr_id in expected_rejections:
                step.check_that(
                    f"{sdr_id} rejected ({expected_rejections[sdr_id]})",
                    result["status"] == 422 and expected_rejections[sdr_id] in _codes(result),
                    f"422 with {expected_rejections[sdr_id]}",
                    f"{result['status']} with {_codes(result)}",
                )
            elif result["result"] == "created":
                created += 1
                demo.sdr_ids[sdr_id] = result["sdr"]["id"]
    flagged_id = demo.sdr_ids.get(sdr_id_of(demo, FLAGGED))
    if flagged_id:
        record = _sdr(demo.partner(demo.starts[FLAGGED].cso), flagged_id)
        codes = [f["code"] for f in record.get("findings", [])]
        step.check(
            "the overcharged SDR is stored but flagged COST_MISMATCH",
            (["COST_MISMATCH"], str(OVERCHARGE)),
            (codes, _decimal_text(record.get("cost_difference"))),
        )
    clean = [sid for sid in demo.sdr_ids if sid != sdr_id_of(demo, FLAGGED)]
    ratings = [_sdr(demo.partner(demo.starts[label_of(demo, sid)].cso), demo.sdr_ids[sid]) for sid in clean]
    step.check(
        "the hub's rating agrees with every other SDR (no finding)",
        [],
        [
            f"{r.get('sdr_id')}: {[f['code'] for f in r.get('findings', [])]}"
            for r in ratings
            if r.get("findings")
        ],
    )
    repeat_label = next(iter(demo.sessions))
    facts = demo.sessions[repeat_label]
    cso = demo.partner(demo.starts[repeat_label].cso)
    same = cso.api.post("/sdrs/", cdr(facts, sdr_id_of(demo, repeat_label)))
    step.check(
        "the same SDR sent again is answered with the stored one",
        (200, demo.sdr_ids.get(sdr_id_of(demo, repeat_label))),
        (same.status, (same.body or {}).get("id")),
    )
    changed = cso.api.post("/sdrs/", cdr(facts, sdr_id_of(demo, repeat_label), cost_offset=Decimal("1.00")))
    step.check(
        "another content under the same id is a conflict",
        (409, "sdr_conflict"),
        (changed.status, ((changed.body or {}).get("error") or {}).get("code")),
    )
    _delivered(demo, step)
    step.count(f"{created} SDRs stored and rated, 2 rejected, 1 flagged COST_MISMATCH")
    step.count("the same SDR again answered with the stored one; another content under its id refused")


def label_of(demo: Demo, sdr_id: str) -> str:
    """The session an SDR bills (a credit "-C" and a replacement "-R" bill their original's)."""
    base = sdr_id.removesuffix("-C").removesuffix("-R")
    return next(label for label in demo.sessions if sdr_id_of(demo, label) == base)


def _decimal_text(value: Any) -> str:
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except Exception:
        return str(value)


def _delivered_ids(csp: Partner, event_type: str) -> set[int]:
    return {s["id"] for d in csp.endpoint.deliveries(event_type) for s in (d.body or {}).get("sdrs", [])}


def _delivered(demo: Demo, step: Step) -> None:
    """Each CSP's endpoint receives exactly the SDRs it pays (sdr.created), and they become DELIVERED."""
    wanted: dict[str, set[int]] = {"csp1": set(), "csp2": set()}
    for sdr_id, hub_id in demo.sdr_ids.items():
        wanted[demo.starts[label_of(demo, sdr_id)].csp].add(hub_id)
    wait_for(
        lambda: all(wanted[k] <= _delivered_ids(demo.partner(k), "sdr.created") for k in wanted),
        timeout=DELIVERY_TIMEOUT,
    )
    for key, ids in wanted.items():
        csp = demo.partner(key)
        step.check(
            f"{csp.ident}'s endpoint received the SDRs it pays (sdr.created)",
            sorted(ids),
            sorted(_delivered_ids(csp, "sdr.created")),
        )
    states = wait_for(
        lambda: s if set(s := _states(demo)) == {"DELIVERED"} else None, timeout=DELIVERY_TIMEOUT
    ) or _states(demo)
    step.check("the delivered SDRs are DELIVERED", ["DELIVERED"], sorted(set(states)))


def _states(demo: Demo) -> list[str]:
    out = []
    for sdr_id, hub_id in demo.sdr_ids.items():
        csp = demo.partner(demo.starts[label_of(demo, sdr_id)].csp)
        out.append(_sdr(csp, hub_id).get("state", "?"))
    return out


def dispute(demo: Demo, step: Step) -> None:
    flagged = sdr_id_of(demo, FLAGGED)
    flagged_id = demo.sdr_ids.get(flagged)
    if flagged_id is None:
        raise StepFailed("the flagged SDR was not stored")
    csp = demo.partner(demo.starts[FLAGGED].csp)
    cso = demo.partner(demo.starts[FLAGGED].cso)
    accepted: set[int] = set()
    for sdr_id, hub_id in demo.sdr_ids.items():
        payer = demo.partner(demo.starts[label_of(demo, sdr_id)].csp)
        if hub_id == flagged_id:
            continue
        answer = payer.api.post(f"/sdrs/{hub_id}/accept")
        if answer.ok and answer.body.get("state") == "ACCEPTED":
            accepted.add(hub_id)
    step.check("the CSPs accept the correct SDRs", len(demo.sdr_ids) - 1, len(accepted))
    answer = csp.api.post(
        f"/sdrs/{flagged_id}/dispute",
        {"reason_code": "INCORRECT_COST", "message": "3.00 EUR above the published tariff"},
    )
    step.check(
        f"{csp.ident} disputes the overcharged SDR",
        (200, "DISPUTED"),
        (answer.status, (answer.body or {}).get("state")),
    )
    told = wait_for(
        lambda: any(
            s.get("id") == flagged_id
            for d in cso.endpoint.deliveries("sdr.disputed")
            for s in d.body.get("sdrs", [])
        ),
        timeout=DELIVERY_TIMEOUT,
    )
    step.check(f"{cso.ident}'s endpoint is told of the dispute (sdr.disputed)", True, bool(told))
    facts = demo.sessions[FLAGGED]
    replacement = cdr(facts, f"{flagged}-R")
    replacement["last_updated"] = _later(replacement["last_updated"])
    answer = cso.api.post(
        f"/sdrs/{flagged_id}/corrections", {"replacement": replacement, "remark": "tariff applied twice"}
    )
    body = answer.body if isinstance(answer.body, dict) else {}
    credit, fixed = body.get("credit") or {}, body.get("replacement") or {}
    step.check(
        f"{cso.ident} corrects it: a credit and a replacement",
        (201, "ACCEPTED", True),
        (answer.status, credit.get("state"), bool(fixed.get("id"))),
    )
    if fixed.get("id"):
        demo.sdr_ids[replacement["id"]] = fixed["id"]
    if credit.get("id"):
        demo.sdr_ids[credit.get("sdr_id", f"{flagged}-C")] = credit["id"]
    corrected = wait_for(
        lambda: fixed.get("id") in _delivered_ids(csp, "sdr.corrected"), timeout=DELIVERY_TIMEOUT
    )
    step.check(f"{csp.ident}'s endpoint receives the correction (sdr.corrected)", True, bool(corrected))
    if fixed.get("id"):
        answer = csp.api.post(f"/sdrs/{fixed['id']}/accept")
        if answer.ok:
            accepted.add(fixed["id"])
        step.check(
            f"{csp.ident} accepts the replacement",
            (200, "ACCEPTED"),
            (answer.status, (answer.body or {}).get("state")),
        )
    original = _sdr(csp, flagged_id)
    step.check(
        "the disputed original is ACCEPTED with its credit (they net to zero)",
        "ACCEPTED",
        original.get("state"),
    )
    wait_for(lambda: accepted <= _cso_accepted(demo), timeout=DELIVERY_TIMEOUT)
    step.check(
        "the CSOs' endpoints are told of each acceptance (sdr.accepted)",
        sorted(accepted),
        sorted(accepted & _cso_accepted(demo)),
    )
    step.count(
        f"{len(demo.sdr_ids) - 3} accepted at once; 1 disputed (INCORRECT_COST), credited and replaced "
        "by its CSO, the replacement accepted"
    )


def _cso_accepted(demo: Demo) -> set[int]:
    return {
        s["id"]
        for key in ("cso1", "cso2")
        for d in demo.partner(key).endpoint.deliveries("sdr.accepted")
        for s in (d.body or {}).get("sdrs", [])
    }


def _later(when: str) -> str:
    from datetime import datetime

    moment = datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ") + timedelta(minutes=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
