"""Remote command routing: the hub's own time for a START_SESSION, both ways, with real workers.

A CSP and a CSO in clearing-house mode register endpoints on 127.0.0.1 (a server in a process of
its own that answers every delivery at once, so partner time is nil). CSP clients send `POST /commands/`;
the time until the CSO's endpoint receives the command is leg 1. The CSO then reports the outcome,
`POST /commands/{id}/result`; the time until the CSP's endpoint receives `command.result` is leg 2.
Deliveries go the production way: written to the outbox in the request's transaction, sent by a
Celery worker (prefork, 2 processes) through Redis. The reference, measured in the same run by the
same clients: one signed `GET /ping` round trip.

Partner time is kept out: the endpoints answer at once (their answer times are reported), and each
leg ends when the delivery arrives, before the partner answers it. Leg 2 waits behind the CSO's
immediate answer (`command.response`), which goes first on the CSP's channel: the hub's time too.
The figures are the medians over several runs of each run's p50 and p99; all the samples pooled are
in the setup.
"""

from __future__ import annotations

import os
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
COMMANDS_PER_RUN = 200


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
    runs = ctx.options.runs
    per_run = 24 if ctx.options.quick else COMMANDS_PER_RUN
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

        lock = threading.Lock()
        numbers = iter(range(10**9))

        def one(number: int, samples: dict[str, list[float]] | None) -> None:
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
            if samples is not None:
                with lock:
                    samples["leg1"].append(1000 * (arrived - started))
                    samples["leg2"].append(1000 * (back - reported))
                    samples["ping"].append(1000 * (done - pinged))

        def measure(commands: int, samples: dict[str, list[float]] | None) -> None:
            """`commands` round trips by CLIENTS clients, each pausing between its commands."""
            left = iter(range(commands))
            errors: list[str] = []

            def client_loop() -> None:
                while True:
                    with lock:
                        if next(left, None) is None:
                            return
                        number = next(numbers)
                    try:
                        one(number, samples)
                    except Exception as exc:  # reported below; one failure fails the benchmark
                        with lock:
                            errors.append(str(exc))
                        return
                    time.sleep(PAUSE_S)

            threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise RuntimeError(f"command routing: {errors[0]} ({len(errors)} failures)")

        measure(1, None)  # the worker is up and the path works, before timing anything
        # Every client's connections and both worker processes are warm, and every web thread has
        # served commands: each has a database connection of its own, whose statements are
        # prepared on first use (a hub in service prepared them long before).
        measure(max(2 * CLIENTS, 4 * hub.workers * hub.threads), None)
        probe = CpuProbe({"hub": hub.pids, "worker": hub.worker_pids, "postgres": hub.postgres_pids})
        each: list[dict[str, Any]] = []
        pooled: dict[str, list[float]] = {"leg1": [], "leg2": [], "ping": []}
        cpu_total = {"hub": 0.0, "worker": 0.0, "postgres": 0.0, "machine": 0.0, "wall": 0.0}
        answers_before = len(endpoints.answer_ms)
        for number in range(runs):
            ctx.measurer.wait_quiet()
            samples: dict[str, list[float]] = {"leg1": [], "leg2": [], "ping": []}
            before = probe.snapshot()
            measure(per_run, samples)
            after = probe.snapshot()
            cpu = CpuProbe.seconds(before, after)
            wall = after.at - before.at
            for name in ("hub", "worker", "postgres", "machine"):
                cpu_total[name] += cpu[name]
            cpu_total["wall"] += wall
            stats = {leg: _stats(values) for leg, values in samples.items()}
            for leg, values in samples.items():
                pooled[leg].extend(values)
            # Others' share: the machine's busy time that none of the hub's processes spent (the
            # clients and endpoints of this benchmark are part of it).
            others = max(0.0, cpu["machine"] - cpu["hub"] - cpu["worker"] - cpu["postgres"])
            each.append(
                {
                    "run": number + 1,
                    "seconds": round(wall, 1),
                    "busy_outside_hub": round(others / (wall * (os.cpu_count() or 1)), 3),
                    **{
                        f"{leg}_{pick}": round(stats[leg][pick], 1)
                        for leg in ("leg1", "leg2", "ping")
                        for pick in ("p50_ms", "p99_ms")
                    },
                }
            )
            ctx.measurer.log(
                f"  run {number + 1}/{runs}: {len(samples['leg1'])} commands in {wall:.1f} s: "
                + ", ".join(
                    f"{name} p50 {stats[leg]['p50_ms']:.1f} / p99 {stats[leg]['p99_ms']:.1f} ms"
                    for leg, name in (("leg1", "leg 1"), ("leg2", "leg 2"), ("ping", "ping"))
                )
            )
        answer_ms = endpoints.answer_ms[answers_before:]
    finally:
        endpoints.close()

    def median_of(leg: str, pick: str) -> float:
        return statistics.median(run[f"{leg}_{pick}"] for run in each)

    first, second, reference = _stats(pooled["leg1"]), _stats(pooled["leg2"]), _stats(pooled["ping"])
    partner = _stats(answer_ms)
    ctx.measurer.log(
        f"  medians of {runs} runs: "
        + ", ".join(
            f"{name} p50 {median_of(leg, 'p50_ms'):.1f} / p99 {median_of(leg, 'p99_ms'):.1f} ms"
            for leg, name in (("leg1", "leg 1"), ("leg2", "leg 2"), ("ping", "ping"))
        )
        + f"; the endpoints' own answer time p99 {partner['p99_ms']:.2f} ms"
    )
    figures = []
    for label, leg in (("CSP → CSO (command delivered)", "leg1"), ("CSO → CSP (result delivered)", "leg2")):
        for pick, name in (("p50_ms", "p50"), ("p99_ms", "p99")):
            measured = median_of(leg, pick)
            figures.append(
                Figure(
                    name=f"command routing, {label}: hub time {name}",
                    measured=measured,
                    unit="ms",
                    target=f"< {P99_TARGET_MS:g} ms" if name == "p99" else "",
                    met=measured < P99_TARGET_MS if name == "p99" else None,
                    ratios={"ping": measured / median_of("ping", pick)},
                )
            )
    series = [
        {"leg": "csp_to_cso", **first},
        {"leg": "cso_to_csp", **second},
        {"leg": "ping", **reference},
    ]
    # Each round trip also carries a ping; its cost is small next to the rest (see the ping benchmark).
    trips = len(pooled["leg1"])
    per_command = {name: round(1000 * cpu_total[name] / trips, 2) for name in ("hub", "worker", "postgres")}
    ctx.measurer.log(f"  CPU per command round trip (ms): {per_command}")
    return Result(
        figures=figures,
        series=[],
        setup={
            "runs": runs,
            "commands": trips,
            "commands_per_run": per_run,
            "clients": CLIENTS,
            "pause_s": PAUSE_S,
            "worker_concurrency": 2,
            "seconds": round(cpu_total["wall"], 1),
            "cpu_ms_per_command": per_command,
            # Pooled over every run; the figures are the medians of the runs' own percentiles.
            "legs": series,
            "each_run": each,
            "endpoint_answer_ms": {k: round(v, 3) for k, v in partner.items()},
        },
    )
