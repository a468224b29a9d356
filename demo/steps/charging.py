"""Steps: remote starts and stops through the hub (clearing house mode; the mixed-mode agreement is
refused with the CSO's direct endpoint), and the charging sessions the CSOs report, with progress and
end, that the CSPs receive."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from ..context import Demo, Started
from ..hub import Partner
from ..ocpi import ChargeFacts, EvseSpec, stamp
from ..partners import PartnerEndpoint
from ..report import Step
from ..wait import wait_for

COMMAND_TIMEOUT = 15.0
DELIVERY_TIMEOUT = 15.0


def _command_final(csp: Partner, command_id: str) -> dict[str, Any] | None:
    answer = csp.api.get(f"/commands/{command_id}")
    if answer.ok and answer.body.get("state") in ("RESULT", "REJECTED", "FAILED", "TIMEOUT", "NOT_SUPPORTED"):
        return answer.body
    return None


def _events_for(endpoint: PartnerEndpoint, command_id: str) -> list[str]:
    return [
        d.event_type
        for d in endpoint.deliveries(path="commands/results")
        if ((d.body or {}).get("command") or {}).get("id") == command_id
    ]


def send_command(
    demo: Demo, step: Step, csp: Partner, cso: Partner, body: dict[str, Any], label: str
) -> dict[str, Any] | None:
    """POST /commands/, then follow it: the CSO's endpoint gets it, answers ACCEPTED, reports the
    outcome; the CSP's endpoint is told of the answer and the outcome."""
    headers = {"Idempotency-Key": f"{label}-{demo.suffix}"}
    answer = csp.api.post("/commands/", body, headers=headers)
    if not step.check(
        f"{label}: POST /commands/ by {csp.ident}",
        (201, "PENDING"),
        (answer.status, (answer.body or {}).get("state")),
    ):
        return None
    command_id = answer.body["id"]
    final = wait_for(lambda: _command_final(csp, command_id), timeout=COMMAND_TIMEOUT)
    final = final or {}
    response = final.get("response")
    step.check(
        f"{label}: the CSO accepted and reported the outcome",
        ("RESULT", "ACCEPTED", "ACCEPTED"),
        (
            final.get("state"),
            final.get("result"),
            response.get("result") if isinstance(response, dict) else response,
        ),
    )
    received = [
        d for d in cso.endpoint.deliveries(path="commands") if (d.body or {}).get("command_id") == command_id
    ]
    step.check(f"{label}: the CSO's endpoint received it once", 1, len(received))
    events = wait_for(
        lambda: (
            e
            if {"command.response", "command.result"} <= set(e := _events_for(csp.endpoint, command_id))
            else None
        ),
        timeout=DELIVERY_TIMEOUT,
    )
    step.check(
        f"{label}: the CSP's endpoint was told of the answer and the outcome",
        ["command.response", "command.result"],
        sorted(set(events or _events_for(csp.endpoint, command_id))),
    )
    return {"command": final or answer.body, "delivered": received[0].body if received else {}}


def remote(demo: Demo, step: Step) -> None:
    cso1, cso2 = demo.partner("cso1"), demo.partner("cso2")
    csp1, csp2 = demo.partner("csp1"), demo.partner("csp2")
    plans = [
        ("R1", csp1, "202", demo.tokens["rfid_always"].contract_id),
        ("R2", csp2, "102", demo.tokens["hub_app"].contract_id),
    ]
    done = 0
    for label, csp, uid, contract_id in plans:
        evse_id = next(e.evse_id for e in demo.networks["cso1"].evses() if e.uid == uid)
        body = {"type": "START_SESSION", "evse_id": evse_id, "connector_id": "1", "contract_id": contract_id}
        followed = send_command(demo, step, csp, cso1, body, f"remote start {label}")
        if followed is None:
            continue
        reference = followed["delivered"].get("authorization_reference") or ""
        step.check_that(
            f"remote start {label}: the CSO got the authorization reference",
            bool(reference),
            "a reference",
            reference,
        )
        demo.starts[label] = Started(
            label=label,
            cso="cso1",
            csp=csp.key,
            evse_id=evse_id,
            contract_id=contract_id,
            reference=reference,
            token_type="APP_USER",  # the driver started from the CSP's app
            token_uid=contract_id,
            auth_method="COMMAND",
        )
        done += 1
    # The same command again with the same Idempotency-Key: the first answer, nothing sent again.
    evse_id = next(e.evse_id for e in demo.networks["cso1"].evses() if e.uid == "202")
    body = {"type": "START_SESSION", "evse_id": evse_id, "connector_id": "1", "contract_id": plans[0][3]}
    again = csp1.api.post("/commands/", body, headers={"Idempotency-Key": f"remote start R1-{demo.suffix}"})
    step.check(
        "the same command repeated with its Idempotency-Key is replayed, not resent",
        (201, "true", 2),
        (
            again.status,
            again.headers.get("Idempotent-Replayed"),
            len(cso1.endpoint.deliveries(path="commands")),
        ),
    )
    mixed = csp1.api.post(
        "/commands/",
        {
            "type": "START_SESSION",
            "evse_id": demo.networks["cso2"].evses(published=True)[0].evse_id,
            "connector_id": "1",
            "contract_id": plans[0][3],
        },
    )
    details = ((mixed.body or {}).get("error") or {}).get("details") or {}
    step.check(
        f"in mixed mode the hub refuses and names {cso2.ident}'s direct endpoint",
        (409, "mixed_mode_direct", cso2.endpoint.url),
        (mixed.status, ((mixed.body or {}).get("error") or {}).get("code"), details.get("direct_endpoint")),
    )
    step.count(f"{done} remote starts in clearing house mode, accepted and reported; 1 refused (mixed mode)")


# --- sessions ---------------------------------------------------------------------------------------

# label -> (start hour UTC on the business day, minutes, share of the connector's power drawn)
TIMES = {
    "S-A": (6, 75, "0.55"), "S-B": (7, 35, "0.50"), "S-C": (8, 95, "0.48"), "S-D": (9, 80, "0.60"),
    "S-E": (11, 110, "0.42"), "S-F": (13, 30, "0.62"), "R1": (15, 70, "0.52"), "R2": (17, 65, "0.57"),
}  # fmt: skip


def _evse(demo: Demo, cso: str, evse_id: str) -> EvseSpec:
    return next(e for e in demo.networks[cso].evses() if e.evse_id == evse_id)


def _tariff_id(demo: Demo, start: Started, evse: EvseSpec) -> str:
    """The tariff the hub rates with: among the connector's, the one targeted at this CSP if any,
    else the public ones (here there is one of each kind at most)."""
    network = demo.networks[start.cso]
    ids = evse.connectors[0].tariff_ids
    provider = demo.partner(start.csp).provider_id
    targeted = [t for t in ids if provider in network.tariff(t).target_provider_ids]
    public = [t for t in ids if not network.tariff(t).target_provider_ids]
    return (targeted or public)[0]


def facts_of(demo: Demo, start: Started) -> ChargeFacts:
    cso = demo.partner(start.cso)
    evse = _evse(demo, start.cso, start.evse_id)
    hour, minutes, share = TIMES[start.label]
    begin = demo.at(hour, 5)
    end = begin + timedelta(minutes=minutes)
    power_kw = Decimal(evse.connectors[0].max_electric_power) / 1000
    kwh = (power_kw * Decimal(share) * Decimal(minutes) / 60).quantize(Decimal("0.001"))
    return ChargeFacts(
        session_id=f"{cso.party_id}-{start.label}-{demo.suffix}",
        cso_country=cso.country,
        cso_party=cso.party_id,
        evse=evse,
        location=demo.networks[start.cso].location_of(evse),
        contract_id=start.contract_id,
        token_type=start.token_type,
        token_uid=start.token_uid,
        authorization_reference=start.reference,
        auth_method=start.auth_method,
        start=begin,
        end=end,
        kwh=kwh,
        tariff=demo.networks[start.cso].tariff(_tariff_id(demo, start, evse)),
    )


def _period(moment: Any, kwh: Decimal) -> list[dict[str, Any]]:
    return [{"start_date_time": stamp(moment), "dimensions": [{"type": "ENERGY", "volume": float(kwh)}]}]


def _session_events(csp: Partner, session_id: str) -> list[str]:
    return [
        d.event_type
        for d in csp.endpoint.deliveries(path="sessions")
        if ((d.body or {}).get("session") or {}).get("id") == session_id
    ]


def sessions(demo: Demo, step: Step) -> None:
    order = [label for label in TIMES if label in demo.starts]
    step.check("every planned session has its accepted start", list(TIMES), order)
    replay_checked = False
    for label in order:
        start = demo.starts[label]
        cso, csp = demo.partner(start.cso), demo.partner(start.csp)
        facts = facts_of(demo, start)
        quarter, most = (
            (facts.kwh * Decimal("0.25")).quantize(Decimal("0.001")),
            (facts.kwh * Decimal("0.7")).quantize(Decimal("0.001")),
        )
        begin, middle = facts.start, facts.start + (facts.end - facts.start) / 2
        created = cso.api.post(
            "/sessions/",
            {
                "id": facts.session_id, "evse_id": facts.evse.evse_id, "connector_id": "1",
                "contract_id": facts.contract_id, "authorization_reference": facts.authorization_reference,
                "start_date_time": stamp(begin), "currency": "EUR", "status": "PENDING", "kwh": 0,
                "meter_id": f"M-{facts.evse.uid}", "last_updated": stamp(begin),
            },
        )  # fmt: skip
        if not step.check(f"{label}: {cso.ident} reports the start", 201, created.status):
            step.count(f"{label} start refused: {str(created.body)[:200]}")
            continue
        plugged = begin + timedelta(minutes=1)
        updates = [
            {"status": "ACTIVE", "kwh": float(quarter), "charging_periods": _period(plugged, quarter),
             "last_updated": stamp(plugged)},
            {"kwh": float(most), "charging_periods": _period(middle, most - quarter),
             "last_updated": stamp(middle)},
        ]  # fmt: skip
        for update in updates:
            patched = cso.api.patch(f"/sessions/{facts.session_id}", update)
            step.check(
                f"{label}: progress applied",
                (200, True),
                (patched.status, (patched.body or {}).get("applied")),
            )
        if not replay_checked:
            again = cso.api.patch(f"/sessions/{facts.session_id}", updates[-1])
            step.check(
                "a repeated update changes nothing (applied: false)",
                (200, False),
                (again.status, (again.body or {}).get("applied")),
            )
            replay_checked = True
        if start.auth_method == "COMMAND":
            send_command(
                demo, step, csp, cso,
                {"type": "STOP_SESSION", "session_id": facts.session_id, "operator_id": cso.operator_id},
                f"remote stop {label}",
            )  # fmt: skip
        excl, incl = facts.tariff.cost(facts.kwh)
        ended = cso.api.patch(
            f"/sessions/{facts.session_id}",
            {"status": "COMPLETED", "end_date_time": stamp(facts.end), "kwh": float(facts.kwh),
             "charging_periods": _period(facts.end - timedelta(minutes=5), facts.kwh - most),
             "total_cost": {"excl_vat": str(excl), "incl_vat": str(incl)}, "last_updated": stamp(facts.end)},
        )  # fmt: skip
        step.check(
            f"{label}: the end is recorded",
            (200, "COMPLETED"),
            (ended.status, ((ended.body or {}).get("session") or {}).get("status")),
        )
        demo.sessions[label] = facts

    def told(csp: Partner, session_id: str) -> bool:
        return "session.ended" in _session_events(csp, session_id)

    wait_for(
        lambda: all(told(demo.partner(demo.starts[k].csp), f.session_id) for k, f in demo.sessions.items()),
        timeout=DELIVERY_TIMEOUT,
    )
    messages = 0
    for label, facts in demo.sessions.items():
        csp = demo.partner(demo.starts[label].csp)
        events = _session_events(csp, facts.session_id)
        messages += len(events)
        step.check_that(
            f"{label}: {csp.ident} was told of start, progress and end",
            events[:1] == ["session.started"]
            and "session.progress" in events
            and events[-1:] == ["session.ended"],
            "session.started, session.progress..., session.ended",
            events,
        )
        read = csp.api.get(f"/sessions/{facts.session_id}?operator={cso_operator(demo, label)}")
        step.check(
            f"{label}: {csp.ident} reads it COMPLETED with {facts.kwh} kWh",
            ("COMPLETED", float(facts.kwh)),
            ((read.body or {}).get("status"), _number((read.body or {}).get("kwh"))),
        )
    remote = sum(1 for label in demo.sessions if demo.starts[label].auth_method == "COMMAND")
    step.check(
        f"{demo.partner('cso1').ident}'s endpoint received each remote start and stop once",
        2 * remote,
        len(demo.partner("cso1").endpoint.deliveries(path="commands")),
    )
    kwh = sum(f.kwh for f in demo.sessions.values())
    step.count(
        f"{len(demo.sessions)} sessions on {demo.day} ({kwh} kWh; 2 remote, 6 by driver authorization), "
        f"{messages} session messages to the CSPs"
    )


def cso_operator(demo: Demo, label: str) -> str:
    from urllib.parse import quote

    return quote(demo.partner(demo.starts[label].cso).operator_id)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
