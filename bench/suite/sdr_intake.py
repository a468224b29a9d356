"""`POST /api/i3/v1/sdrs/` in bulk: 500 new SDRs per request, validated, rated and stored.

A CSO publishes an energy tariff and 1,000 EVSEs whose connectors name it; a CSP has an agreement
with it since the start of the year. Each SDR is an OCPI 2.2.1 CDR of a one-hour, 10 kWh session at
one of those EVSEs for one of the CSP's contracts, priced as the tariff says (so it is stored without
a cost finding). Every SDR id is new, so each item takes the full path: schema, rules, rating, insert.
Each answer must be 200 with all 500 items `created`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import figures
from harness.context import Context
from harness.hub import API, Signer
from harness.registry import Result, benchmark
from harness.wrk import Request

from .fixtures import evse_ids, locations, rfc3339

PER_REQUEST = 500
TARGET_PER_S = 3_000
TARIFF_ID = "BENCH-ENERGY"
PRICE_PER_KWH = "0.30"
VAT = 19.0
ENERGY_KWH = 10
# A batch sender keeps a few requests in flight: one per gunicorn worker, then enough to fill all
# their threads (2 workers x 4 threads).
BULK_CONNECTIONS = (2, 8)
# Requests of a second or more: three runs keep the suite within its time.
RUNS = 3
OUTCOMES = ("created", "existing", "rejected", "conflict", "invalid")


def tariff(operator_id: str) -> dict[str, Any]:
    country, party = operator_id.split("*")
    return {
        "country_code": country,
        "party_id": party,
        "id": TARIFF_ID,
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": float(PRICE_PER_KWH), "vat": VAT, "step_size": 1}
                ]
            }
        ],
        "last_updated": rfc3339(datetime(2026, 1, 1, tzinfo=UTC)),
    }


def sdr(
    operator_id: str, provider_id: str, *, sdr_id: str, evse_id: str, contract: int, start: datetime
) -> dict[str, Any]:
    country, party = operator_id.split("*")
    csp_country, csp_party = provider_id.split("-")
    end = start + timedelta(hours=1)
    number = int(evse_id.rsplit("E", 1)[1])
    location = f"LOC{(number - 1) // 100 + 1:05d}"
    excl = round(ENERGY_KWH * float(PRICE_PER_KWH), 2)
    incl = round(excl * (1 + VAT / 100), 2)
    return {
        "country_code": country,
        "party_id": party,
        "id": sdr_id,
        "start_date_time": rfc3339(start),
        "end_date_time": rfc3339(end),
        "cdr_token": {
            "country_code": csp_country,
            "party_id": csp_party,
            "uid": f"04{contract:012X}",
            "type": "RFID",
            "contract_id": f"{provider_id}-C{contract:08d}",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": location,
            "name": f"Bench site {int(location[3:])}",
            "address": f"Benchstrasse {int(location[3:])}",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DEU",
            "coordinates": {"latitude": "52.000100", "longitude": "13.000100"},
            "evse_uid": evse_id.replace("*", ""),
            "evse_id": evse_id,
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": rfc3339(start),
                "dimensions": [{"type": "ENERGY", "volume": ENERGY_KWH}],
                "tariff_id": TARIFF_ID,
            }
        ],
        "total_cost": {"excl_vat": excl, "incl_vat": incl},
        "total_energy": ENERGY_KWH,
        "total_energy_cost": {"excl_vat": excl, "incl_vat": incl},
        "total_time": 1.0,
        "last_updated": rfc3339(end),
    }


def sdr_requests(operator_id: str, provider_id: str, evses: list[str], seed: int):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    sequence = 0  # SDR ids continue across runs: every one is new
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)

    def make(signer: Signer, count: int) -> Iterator[Request]:
        nonlocal sequence
        for _ in range(count):
            batch = []
            for _item in range(PER_REQUEST):
                sequence += 1
                start = base - timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
                batch.append(
                    sdr(
                        operator_id,
                        provider_id,
                        sdr_id=f"BENCH-{sequence:09d}",
                        evse_id=rng.choice(evses),
                        contract=rng.randrange(1, 100_000),
                        start=start,
                    )
                )
            yield signer.request("POST", "/sdrs/", batch)

    return make


def check(counted: dict[str, int], answers: int) -> list[str]:
    if counted.get("created", 0) != answers * PER_REQUEST or any(counted.get(o) for o in OUTCOMES[1:]):
        return [f"{answers} answers of {PER_REQUEST} SDRs, outcomes counted {counted}"]
    return []


@benchmark(
    "sdr-intake", title="POST /sdrs/ in bulk, 500 new SDRs per request, validated, rated, stored", order=40
)
def run(ctx: Context) -> Result:
    hub = ctx.hub()
    operator = hub.onboard(name="Bench SDR Operator", country="DE", party="BSD", roles="CSO")
    provider = hub.onboard(name="Bench SDR Provider", country="NL", party="BSC", roles="CSP")
    hub.agreement(cso=operator, csp=provider, authorization="CSP_ISSUED", valid_from="2026-01-01")
    assert operator.operator_id and provider.provider_id
    client = hub.client(operator)
    answer = client.put(f"/tariffs/{TARIFF_ID}", tariff(operator.operator_id))
    if answer.status not in (200, 201):
        raise RuntimeError(f"publishing the tariff failed: {answer.status} {str(answer.body)[:500]}")
    evses = evse_ids(operator.operator_id, 1000)
    answer = client.put("/locations/", locations(operator.operator_id, evses, tariff_id=TARIFF_ID))
    if answer.status != 200:
        raise RuntimeError(f"publishing the EVSEs failed: {answer.status} {str(answer.body)[:500]}")

    make = sdr_requests(operator.operator_id, provider.provider_id, evses, seed=3)
    signer = Signer(client)
    probe = next(make(signer, 1))
    answer = client.post("/sdrs/", json.loads(probe.body))
    if answer.status != 200 or answer.body.get("summary", {}).get("created") != PER_REQUEST:
        first = next(
            (r for r in (answer.body or {}).get("results", []) if r.get("result") != "created"), None
        )
        raise RuntimeError(f"SDR pre-check failed: {answer.status} {answer.body.get('summary')} {first}")

    target = ctx.hub_target(
        "sdr-intake",
        signer,
        make,
        url_path=API + "/sdrs/",
        expect_body='"summary":',
        items_per_request=PER_REQUEST,
        max_rate_guess=20.0,
        count_patterns={name: f'"{name}":(%d+)' for name in OUTCOMES},
        check_counts=check,
        timeout=120.0,
        min_warmup=2.0,
        min_duration=3.0,
    )
    result = Result(
        figures=[], setup={"evses": len(evses), "per_request": PER_REQUEST, "tariff": "energy only"}
    )
    for connections in ctx.levels(BULK_CONNECTIONS):
        summary = ctx.measurer.compare([target], connections, runs=RUNS)["sdr-intake"].summary()
        result.series.append(summary)
        result.figures += [
            figures.throughput(
                "sdr-intake",
                summary,
                target=f"≥ {TARGET_PER_S:,} SDRs/s",
                at_least=TARGET_PER_S,
                items="SDRs",
            ),
            figures.tail_latency("sdr-intake", summary),
            figures.cpu_per_request("sdr-intake", summary, of="hub + PostgreSQL, per 500 SDRs"),
        ]
    return result
