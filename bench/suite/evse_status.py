"""`POST /api/i3/v1/evse-statuses/` in bulk: 1,000 status updates per request, every one a change.

A CSO publishes its EVSEs (`PUT /locations/`, full load), then sends batches of 1,000 statuses. The
EVSEs are split into chunks of 1,000 and request k updates chunk k mod chunks, so concurrent
requests touch different rows; the status of a chunk walks through a cycle of six values, so every
item is a real change (stored, logged for CSPs) even when two requests for the same chunk overtake
each other. Each answer must be 200 with every item `applied` (or `unchanged`, the de-duplicated
case, which only an overtaking could cause) and none rejected.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

from harness import figures
from harness.context import Context
from harness.hub import API, Signer
from harness.registry import Result, benchmark
from harness.wrk import Request

from .fixtures import evse_ids, locations, rfc3339

PER_REQUEST = 1000
TARGET_PER_S = 20_000
CYCLE = ("CHARGING", "AVAILABLE", "BLOCKED", "RESERVED", "OUTOFORDER", "INOPERATIVE")
# A batch sender keeps a few requests in flight: one per gunicorn worker, then enough to fill all
# their threads (2 workers x 4 threads).
BULK_CONNECTIONS = (2, 8)
# Requests of a second or more: three runs keep the suite within its time.
RUNS = 3
OUTCOMES = ("applied", "unchanged", "ignored_older", "rejected")


def status_requests(evses: list[str]):  # type: ignore[no-untyped-def]
    chunks = [evses[i : i + PER_REQUEST] for i in range(0, len(evses), PER_REQUEST)]
    sequence = 0  # continues across runs, so each run goes on walking the cycle

    def make(signer: Signer, count: int) -> Iterator[Request]:
        nonlocal sequence
        # One timestamp per run: an equal time is not older, so order inside a run never matters.
        stamp = rfc3339(datetime.now(UTC))
        for _ in range(count):
            chunk, lap = sequence % len(chunks), sequence // len(chunks)
            status = CYCLE[lap % len(CYCLE)]
            sequence += 1
            body = [{"evse_id": evse, "status": status, "timestamp": stamp} for evse in chunks[chunk]]
            yield signer.request("POST", "/evse-statuses/", body)

    return make


def check(counted: dict[str, int], answers: int) -> list[str]:
    problems = []
    if counted.get("rejected") or counted.get("ignored_older"):
        problems.append(f"items not applied: {counted}")
    if counted.get("applied", 0) + counted.get("unchanged", 0) != answers * PER_REQUEST:
        problems.append(f"{answers} answers of {PER_REQUEST} items, outcomes counted {counted}")
    return problems


@benchmark("evse-status", title="POST /evse-statuses/ in bulk, 1,000 status changes per request", order=30)
def run(ctx: Context) -> Result:
    hub = ctx.hub()
    chunks = 8 if ctx.options.quick else 32
    operator = hub.onboard(name="Bench Status Operator", country="DE", party="BES", roles="CSO")
    assert operator.operator_id
    evses = evse_ids(operator.operator_id, chunks * PER_REQUEST)
    client = hub.client(operator)
    started = time.monotonic()
    answer = client.put("/locations/", locations(operator.operator_id, evses))
    if answer.status != 200:
        raise RuntimeError(f"publishing {len(evses)} EVSEs failed: {answer.status} {str(answer.body)[:500]}")
    published_s = time.monotonic() - started
    ctx.measurer.log(f"  published {len(evses)} EVSEs in {published_s:.1f} s")

    target = ctx.hub_target(
        "evse-status",
        Signer(client),
        status_requests(evses),
        url_path=API + "/evse-statuses/",
        expect_body='"counts":',
        items_per_request=PER_REQUEST,
        max_rate_guess=60.0,
        count_patterns={name: f'"{name}":(%d+)' for name in OUTCOMES},
        check_counts=check,
        timeout=120.0,
        min_warmup=3.0,
    )
    result = Result(
        figures=[],
        setup={"evses": len(evses), "per_request": PER_REQUEST, "publish_seconds": round(published_s, 1)},
    )
    for connections in ctx.levels(BULK_CONNECTIONS):
        summary = ctx.measurer.compare([target], connections, runs=RUNS)["evse-status"].summary()
        result.series.append(summary)
        result.figures += [
            figures.throughput(
                "evse-status",
                summary,
                target=f"≥ {TARGET_PER_S:,} updates/s",
                at_least=TARGET_PER_S,
                items="updates",
            ),
            figures.tail_latency("evse-status", summary),
            figures.cpu_per_request("evse-status", summary, of="hub + PostgreSQL, per 1,000 updates"),
        ]
    return result
