"""Remote command routing: the hub's own time for a START_SESSION, both ways, with real workers.

A CSP and a CSO in clearing-house mode register endpoints on 127.0.0.1 (a server in this process
that answers every delivery at once, so partner time is nil). CSP clients send `POST /commands/`;
the time until the CSO's endpoint receives the command is leg 1. The CSO then reports the outcome,
`POST /commands/{id}/result`; the time until the CSP's endpoint receives `command.result` is leg 2.
Deliveries go the production way: written to the outbox in the request's transaction, sent by a
Celery worker (prefork, 2 processes) through Redis. The reference, measured in the same run by the
same clients: one signed `GET /ping` round trip.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from harness.context import Context
from harness.endpoints import EndpointServer
from harness.procs import CpuProbe
from harness.registry import Figure, Result, benchmark

from .fixtures import evse_ids, locations

P99_TARGET_MS = 50.0
CLIENTS = 4
PAUSE_S = 0.1  # between one client's commands: a steady load, not a stress test


def _key(path: str, body: dict[str, Any]) -> str | None:
    if path.endswith("/commands") and "command_id" in body:
        return str(body["command_id"])
    command = body.get("command")
    if isinstance(command, dict) and body.get("event"):
        return f"{command.get('id')}:{body['event']}"
    return None


def _answer(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if path.endswith("/commands"):
        return {"result": "ACCEPTED", "timeout": 60}
    return {}


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_ms": _percentile(values, 50),
        "p90_ms": _percentile(values, 90),
        "p99_ms": _percentile(values, 99),
        "max_ms": max(values),
        "mean_ms": statistics.fmean(values),
    }


@benchmark(
    "command-routing",
    title="START_SESSION routed CSP → CSO and its result CSO → CSP: the hub's time",
    order=50,
)
def run(ctx: Context) -> Result:
    hub = ctx.hub()
    commands = 24 if ctx.options.quick else 400
    endpoints = EndpointServer(key_of=_key, answer=_answer)
    try:
        operator = hub.onboard(name="Bench Command Operator", country="DE", party="BCM", roles="CSO")
        provider = hub.onboard(name="Bench Command Provider", country="NL", party="BCP", roles="CSP")
        hub.agreement(cso=operator, csp=provider, authorization="CSP_ISSUED")
        assert operator.operator_id and provider.provider_id
        cso, csp = hub.client(operator), hub.client(provider)
        evses = evse_ids(operator.operator_id, 100)
        for client, role, path in ((cso, "CSO", "/cso"), (csp, "CSP", "/csp")):
            answer = client.put(
                "/partners/me/endpoints", {"endpoints": [{"role": role, "url": endpoints.base_url + path}]}
            )
            if answer.status != 200:
                raise RuntimeError(f"registering the {role} endpoint failed: {answer.status} {answer.body}")
        answer = cso.put("/locations/", locations(operator.operator_id, evses))
        if answer.status != 200:
            raise RuntimeError(f"publishing the EVSEs failed: {answer.status} {str(answer.body)[:300]}")
        hub.start_worker()

        leg1: list[float] = []
        leg2: list[float] = []
        ping: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        counter = iter(range(commands + 2 * CLIENTS))

        def one(number: int, *, record: bool) -> None:
            body = {
                "type": "START_SESSION",
                "evse_id": evses[number % len(evses)],
                "connector_id": "1",
                "contract_id": f"{provider.provider_id}-C{number + 1:08d}",
            }
            started = time.monotonic()
            answer = csp.post("/commands/", body)
            if answer.status != 201:
                raise RuntimeError(f"POST /commands/: {answer.status} {answer.body}")
            command_id = answer.body["id"]
            arrived = endpoints.arrivals.wait("/cso/commands", command_id, timeout=30)
            if arrived is None:
                raise RuntimeError(f"command {command_id} never reached the CSO's endpoint")
            # The CSP hears of the CSO's immediate answer first; then the outcome goes back.
            reported = time.monotonic()
            answer = cso.post(f"/commands/{command_id}/result", {"result": "ACCEPTED"})
            if answer.status != 200:
                raise RuntimeError(f"POST /commands/{{id}}/result: {answer.status} {answer.body}")
            back = endpoints.arrivals.wait(
                "/csp/commands/results", f"{command_id}:command.result", timeout=30
            )
            if back is None:
                raise RuntimeError(f"the result of {command_id} never reached the CSP's endpoint")
            pinged = time.monotonic()
            answer = csp.get("/ping")
            if answer.status != 200:
                raise RuntimeError(f"GET /ping: {answer.status} {answer.body}")
            done = time.monotonic()
            if record:
                with lock:
                    leg1.append(1000 * (arrived - started))
                    leg2.append(1000 * (back - reported))
                    ping.append(1000 * (done - pinged))

        def client_loop() -> None:
            while True:
                with lock:
                    number = next(counter, None)
                if number is None:
                    return
                try:
                    # The first commands of each client warm the workers and connections.
                    one(number, record=number >= 2 * CLIENTS)
                except Exception as exc:  # reported below; one failure fails the benchmark
                    with lock:
                        errors.append(str(exc))
                    return
                time.sleep(PAUSE_S)

        one(10_000_000, record=False)  # the worker is up and the path works, before timing anything
        probe = CpuProbe({"hub": hub.pids, "worker": hub.worker_pids, "postgres": hub.postgres_pids})
        before = probe.snapshot()
        started = time.monotonic()
        threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        cpu = CpuProbe.seconds(before, probe.snapshot())
        if errors:
            raise RuntimeError(f"command routing: {errors[0]} ({len(errors)} failures)")
    finally:
        endpoints.close()

    first, second, reference = _stats(leg1), _stats(leg2), _stats(ping)
    ctx.measurer.log(
        f"  {len(leg1)} commands in {elapsed:.1f} s: "
        + ", ".join(
            f"{name} p50 {stats['p50_ms']:.1f} / p99 {stats['p99_ms']:.1f} ms"
            for name, stats in (("leg 1", first), ("leg 2", second), ("ping", reference))
        )
    )
    figures = []
    for label, stats in (("CSP → CSO (command delivered)", first), ("CSO → CSP (result delivered)", second)):
        for pick, name in (("p50_ms", "p50"), ("p99_ms", "p99")):
            figures.append(
                Figure(
                    name=f"command routing, {label}: hub time {name}",
                    measured=stats[pick],
                    unit="ms",
                    target=f"< {P99_TARGET_MS:g} ms" if name == "p99" else "",
                    met=stats[pick] < P99_TARGET_MS if name == "p99" else None,
                    ratios={"ping": stats[pick] / reference[pick]},
                )
            )
    series = [
        {"leg": "csp_to_cso", **first},
        {"leg": "cso_to_csp", **second},
        {"leg": "ping", **reference},
    ]
    # Each round trip also carries a ping; its cost is small next to the rest (see the ping benchmark).
    trips = len(leg1) + 2 * CLIENTS
    per_command = {name: round(1000 * cpu[name] / trips, 2) for name in ("hub", "worker", "postgres")}
    ctx.measurer.log(f"  CPU per command round trip (ms): {per_command}")
    return Result(
        figures=figures,
        series=[],
        setup={
            "commands": len(leg1),
            "clients": CLIENTS,
            "pause_s": PAUSE_S,
            "worker_concurrency": 2,
            "seconds": round(elapsed, 1),
            "cpu_ms_per_command": per_command,
            "legs": series,
        },
    )
