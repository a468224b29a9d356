"""Steps: the CSOs publish locations and tariffs (OCPI 2.2.1), then stream live EVSE statuses in
bulk; the CSPs see what their agreements share and receive the status changes pushed in batches."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from ..context import Demo
from ..hub import API_PREFIX, Partner
from ..ocpi import network_amsterdam, network_berlin, stamp
from ..partners import PartnerEndpoint
from ..report import Step, StepFailed
from ..wait import wait_for

CYCLE = ["CHARGING", "AVAILABLE", "RESERVED", "CHARGING", "OUTOFORDER", "AVAILABLE", "CHARGING", "AVAILABLE"]
PUSH_TIMEOUT = 25.0
PRIMING_ATTEMPTS = 3


def _all_pages(partner: Partner, path: str) -> list[dict[str, Any]] | None:
    """Follow `next` links (signed like any target); None if a page fails."""
    results: list[dict[str, Any]] = []
    while path:
        answer = partner.api.get(path)
        if not answer.ok:
            return None
        results += answer.body.get("results", [])
        following = answer.body.get("next")
        path = following.split(API_PREFIX, 1)[1] if following else ""
    return results


def publish(demo: Demo, step: Step) -> None:
    cso1, cso2 = demo.partner("cso1"), demo.partner("cso2")
    csp1, csp2 = demo.partner("csp1"), demo.partner("csp2")
    demo.networks["cso1"] = network_berlin(cso1.operator_id, csp2.provider_id)
    demo.networks["cso2"] = network_amsterdam(cso2.operator_id)
    published_at = datetime.now(UTC) - timedelta(minutes=10)
    for cso in (cso1, cso2):
        network = demo.networks[cso.key]
        for tariff in network.tariffs:
            answer = cso.api.put(
                f"/tariffs/{tariff.tariff_id}", tariff.document(cso.country, cso.party_id, published_at)
            )
            step.check(
                f"{cso.ident} PUT /tariffs/{tariff.tariff_id}",
                (201, "created"),
                (answer.status, _result(answer)),
            )
        documents = [
            loc.document(cso.country, cso.party_id, cso.name, published_at) for loc in network.locations
        ]
        answer = cso.api.put("/locations/", documents)
        counts = (answer.body or {}).get("counts", {}) if answer.ok else answer.body
        step.check(
            f"{cso.ident} PUT /locations/ (full load)",
            {"created": len(documents), "updated": 0, "unchanged": 0, "ignored_older": 0, "removed": 0},
            counts,
        )
    n_locations = sum(len(n.locations) for n in demo.networks.values())
    n_evses = sum(len(n.evses()) for n in demo.networks.values())
    n_tariffs = sum(len(n.tariffs) for n in demo.networks.values())
    step.count(
        f"{n_locations} locations, {n_evses} EVSEs, {n_tariffs} tariffs (one targeted at {csp2.provider_id})"
    )

    def location_ids(viewer: Partner, owner: Partner) -> list[str] | None:
        rows = _all_pages(viewer, f"/locations/?operator={quote(owner.operator_id)}&limit=100")
        return None if rows is None else sorted(r["id"] for r in rows)

    def tariff_ids(viewer: Partner, owner: Partner) -> list[str] | None:
        rows = _all_pages(viewer, f"/tariffs/?operator={quote(owner.operator_id)}&limit=100")
        return None if rows is None else sorted(r["id"] for r in rows)

    step.check(
        f"{csp1.ident} sees {cso1.ident}'s published locations only",
        ["LOC1", "LOC2"],
        location_ids(csp1, cso1),
    )
    step.check(f"{cso1.ident} sees all its own locations", ["LOC1", "LOC2", "LOC3"], location_ids(cso1, cso1))
    step.check(f"{csp2.ident} sees {cso2.ident}'s locations", ["LOC1", "LOC2"], location_ids(csp2, cso2))
    step.check(
        f"{csp1.ident} sees {cso1.ident}'s public tariffs", ["AC-STANDARD", "DC-FAST"], tariff_ids(csp1, cso1)
    )
    step.check(
        f"{csp2.ident} sees the public tariffs and the one targeted at it",
        ["AC-PARTNER", "AC-STANDARD", "DC-FAST"],
        tariff_ids(csp2, cso1),
    )
    other = cso2.api.get(f"/locations/LOC3?operator={quote(cso1.operator_id)}")
    step.check(f"{cso2.ident} cannot read {cso1.ident}'s unpublished depot", 404, other.status)


def _result(answer: Any) -> Any:
    return (answer.body or {}).get("result") if isinstance(answer.body, dict) else answer.body


# --- the status stream ------------------------------------------------------------------------------


class StatusClock:
    """Status times: one second apart per round, in the recent past, never ahead of the hub."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=90)

    def tick(self) -> str:
        self.moment += timedelta(seconds=1)
        return stamp(self.moment)


def _pushed(endpoint: PartnerEndpoint) -> list[dict[str, Any]]:
    return [s for d in endpoint.deliveries("evse_status.batch") for s in (d.body or {}).get("statuses", [])]


def _prime(demo: Demo, clock: StatusClock, current: dict[str, str]) -> float:
    """One change per CSO that both CSPs must receive before the stream starts: a CSP's push cursor
    starts from the present when the periodic job first sees it, so this proves it is in place.
    Returns the seconds the first push took."""
    csps = [demo.partner("csp1"), demo.partner("csp2")]
    started = time.monotonic()
    statuses = ["CHARGING", "AVAILABLE", "CHARGING"]
    for attempt in range(PRIMING_ATTEMPTS):
        when = clock.tick()
        sent = set()
        for key in ("cso1", "cso2"):
            evse = demo.networks[key].evses(published=True)[0]
            answer = demo.partner(key).api.post(
                "/evse-statuses/", [{"evse_id": evse.evse_id, "status": statuses[attempt], "timestamp": when}]
            )
            if not answer.ok or answer.body["counts"].get("applied") != 1:
                raise StepFailed(
                    f"priming status of {evse.evse_id} not applied: {answer.status} {answer.body}"
                )
            sent.add((evse.evse_id, when))
            current[evse.evse_id] = statuses[attempt]

        def arrived(sent: set = sent) -> bool:
            return all(sent <= {(s["evse_id"], s["timestamp"]) for s in _pushed(c.endpoint)} for c in csps)

        if wait_for(arrived, timeout=8.0):
            return time.monotonic() - started
    raise StepFailed(
        f"no status change reached the CSPs within {PRIMING_ATTEMPTS * 8} s: is the scheduler (celery beat) "
        "running? `make run` starts it"
    )


def stream(demo: Demo, step: Step, rounds: int = 8) -> None:
    clock = StatusClock()
    current = {e.evse_id: "AVAILABLE" for n in demo.networks.values() for e in n.evses()}
    first_push = _prime(demo, clock, current)
    csps = [demo.partner("csp1"), demo.partner("csp2")]
    stream_start = clock.moment
    expected_pushed: set[tuple[str, str, str]] = set()
    applied_total = 0
    half = rounds // 2
    for key in ("cso1", "cso2"):
        cso = demo.partner(key)
        evses = demo.networks[key].evses()
        for part in range(2):
            items = []
            for r in range(part * half, (part + 1) * half):
                when = clock.tick()
                for evse in evses:
                    # the next status of the cycle that differs from the current one: a real change
                    status = next(
                        s
                        for i in range(len(CYCLE))
                        if (s := CYCLE[(r + i) % len(CYCLE)]) != current[evse.evse_id]
                    )
                    current[evse.evse_id] = status
                    items.append({"evse_id": evse.evse_id, "status": status, "timestamp": when})
                    if evse.published:
                        expected_pushed.add((evse.evse_id, status, when))
            last = items[-1]
            extras = [
                dict(last),  # the same status again: refreshes it, no change
                {**items[0], "status": "INOPERATIVE"},  # older than what is stored: ignored
                {
                    "evse_id": f"{cso.operator_id}*E999*9",
                    "status": "AVAILABLE",
                    "timestamp": last["timestamp"],
                },
            ]
            answer = cso.api.post("/evse-statuses/", items + extras, idempotent=True)
            counts = answer.body.get("counts") if answer.ok else answer.body
            step.check(
                f"{cso.ident} bulk of {len(items) + 3} statuses answered per item",
                {"applied": len(items), "unchanged": 1, "ignored_older": 1, "rejected": 1},
                {k: (counts or {}).get(k, 0) for k in ("applied", "unchanged", "ignored_older", "rejected")}
                if isinstance(counts, dict)
                else counts,
            )
            applied_total += len(items)
            if answer.ok:
                codes = [
                    r.get("error", {}).get("code")
                    for r in answer.body["results"]
                    if r["status"] == "rejected"
                ]
                step.check("the unknown EVSE is rejected with unknown_evse", ["unknown_evse"], codes)
    unpublished = {e.evse_id for n in demo.networks.values() for e in n.evses(published=False)}

    def complete() -> bool:
        return all(
            expected_pushed <= {(s["evse_id"], s["status"], s["timestamp"]) for s in _pushed(c.endpoint)}
            for c in csps
        )

    started = time.monotonic()
    wait_for(complete, timeout=PUSH_TIMEOUT)
    waited = time.monotonic() - started
    for csp in csps:
        # What arrived of the stream (the priming changes are older than its first status).
        pushed = [s for s in _pushed(csp.endpoint) if s["timestamp"] > stamp(stream_start)]
        got = {(s["evse_id"], s["status"], s["timestamp"]) for s in pushed}
        ids = [s["id"] for s in pushed]
        batches = len(csp.endpoint.deliveries("evse_status.batch"))
        step.check_that(
            f"{csp.ident} received every change of a published EVSE (pushed in batches)",
            got == expected_pushed,
            f"{len(expected_pushed)} changes",
            f"{len(expected_pushed & got)} of them, {len(got - expected_pushed)} others, {batches} messages",
        )
        step.check(
            f"{csp.ident} received no change of the unpublished depot",
            0,
            sum(1 for s in pushed if s["evse_id"] in unpublished),
        )
        step.check_that(
            f"{csp.ident} received changes in the hub's order", ids == sorted(ids), "ascending ids", ids[:5]
        )
    feed = _all_pages(
        csps[0], f"/evse-statuses/?operator={quote(demo.partner('cso2').operator_id)}&limit=1000"
    )
    mine = [s for s in feed or [] if s["timestamp"] > stamp(stream_start)]
    step.check(
        f"{csps[0].ident} pulls the same changes of {demo.partner('cso2').ident} (GET /evse-statuses/)",
        len([e for e in expected_pushed if e[0].startswith(demo.partner("cso2").operator_id)]),
        len(mine),
    )
    step.count(
        f"{applied_total} status changes applied in 4 bulk requests (+ 6 refused or ignored on purpose); "
        f"each CSP got {len(expected_pushed)} pushed"
    )
    step.count(f"first push arrived {first_push:.1f} s after the change; the stream's last in {waited:.1f} s")
