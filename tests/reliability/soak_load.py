"""The soak's load generator: a process of its own that plays a CSO and a CSP against a running hub
for a fixed time, at a steady rate, and writes what it saw as JSON.

    python -m tests.reliability.soak_load WORLD.json SECONDS RATE OUT.json

WORLD.json is `HubWorld.describe()`. The mix, per cycle of thirteen requests: four authorizations
answered from hub data, two bulk EVSE status updates, a session started, updated and completed, two
SDRs, and a read of the CSP's session and SDR lists. Every answer other than the expected status,
and every transport error, is an error.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from tests.reliability.signed import Partner

# Each thread sends one request at a time: enough of them that the rate is kept when answers slow.
REQUESTS_PER_SECOND_PER_THREAD = 10
RELOGIN_SECONDS = 15 * 60
CYCLE_REQUESTS = 13  # what one cycle() sends


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Load:
    def __init__(self, world: dict[str, Any], seconds: float, rate: float) -> None:
        self.world = world
        self.deadline = time.monotonic() + seconds
        self.threads = max(4, math.ceil(rate / REQUESTS_PER_SECOND_PER_THREAD))
        self.interval = self.threads / rate  # each thread's pace, so that all together make `rate`
        self.cso = Partner(world["base_url"], **world["cso"], timeout=30).login()
        self.csp = Partner(world["base_url"], **world["csp"], timeout=30).login()
        self.logged_in_at = time.monotonic()
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.latencies: defaultdict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.error_count = 0
        self.sdr_ids: list[str] = []
        self.session_ids: list[str] = []

    # one request

    def call(
        self, op: str, partner: Partner, session: Any, method: str, path: str, body: Any, expect: int
    ) -> Any:
        self.refresh_logins()
        started = time.monotonic()
        try:
            answer = partner.send(method, path, body, session=session)
            status: int | str = answer.status_code
        except Exception as exc:  # a transport error is an error like any other
            answer, status = None, type(exc).__name__
        elapsed = time.monotonic() - started
        with self.lock:
            self.counts[op] += 1
            self.latencies[op].append(elapsed)
            if status != expect:
                self.error_count += 1
                if len(self.errors) < 50:
                    text = answer.text[:200] if answer is not None else ""
                    self.errors.append(f"{op} {method} {path}: {status} {text}")
        return answer if status == expect else None

    def refresh_logins(self) -> None:
        # Access tokens live 20 minutes; a long soak logs in again, as a partner's client does.
        with self.lock:
            if time.monotonic() - self.logged_in_at > RELOGIN_SECONDS:
                self.cso.login()
                self.csp.login()
                self.logged_in_at = time.monotonic()

    # the mix

    def cycle(self, cso: Any, csp: Any) -> None:
        world = self.world
        for _ in range(4):
            self.call("authorization", self.cso, cso, "POST", "/authorizations/", self.authorization(), 200)
        for _ in range(2):
            statuses = [
                {
                    "evse_id": world["evse_id"],
                    "status": random.choice(["AVAILABLE", "CHARGING"]),
                    "timestamp": now_rfc3339(),
                }
            ]
            self.call("evse_status", self.cso, cso, "POST", "/evse-statuses/", statuses, 200)
        self.session_flow(cso)
        for _ in range(2):
            sdr_id = f"SOAK-{uuid.uuid4().hex[:20]}"
            cdr = copy.deepcopy(world["cdr_template"])
            cdr["id"], cdr["session_id"] = sdr_id, f"S-{sdr_id}"
            if self.call("sdr", self.cso, cso, "POST", "/sdrs/", cdr, 201) is not None:
                with self.lock:
                    self.sdr_ids.append(sdr_id)
        self.call("read_sessions", self.csp, csp, "GET", "/sessions/?limit=20", None, 200)
        self.call("read_sdrs", self.csp, csp, "GET", "/sdrs/?limit=20", None, 200)

    def authorization(self) -> dict[str, Any]:
        return {"evse_id": self.world["evse_id"], "credential": {"type": "RFID", "value": self.world["uid"]}}

    def session_flow(self, cso: Any) -> None:
        session_id = f"SOAK-{uuid.uuid4().hex[:20]}"
        start = {**self.world["session_template"], "id": session_id, "last_updated": now_rfc3339()}
        if self.call("session_start", self.cso, cso, "POST", "/sessions/", start, 201) is None:
            return
        progress = {"kwh": 5.5, "last_updated": now_rfc3339()}
        self.call("session_update", self.cso, cso, "PATCH", f"/sessions/{session_id}", progress, 200)
        end = {
            "status": "COMPLETED",
            "kwh": 11.0,
            "end_date_time": "2025-03-04T11:00:00Z",
            "last_updated": now_rfc3339(),
        }
        if self.call("session_end", self.cso, cso, "PATCH", f"/sessions/{session_id}", end, 200) is not None:
            with self.lock:
                self.session_ids.append(session_id)

    def run_thread(self) -> None:
        cso, csp = self.cso.session(), self.csp.session()
        cycle_seconds = CYCLE_REQUESTS * self.interval  # at this thread's share of the rate
        next_at = time.monotonic()
        while time.monotonic() < self.deadline:
            self.cycle(cso, csp)
            # Behind schedule (a slow answer): go on at once, but never catch up in a burst.
            next_at = max(next_at + cycle_seconds, time.monotonic())
            time.sleep(max(0.0, next_at - time.monotonic()))

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        threads = [threading.Thread(target=self.run_thread, daemon=True) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, self.deadline - time.monotonic()) + 120)
        elapsed = time.monotonic() - started
        total = sum(self.counts.values())
        return {
            "seconds": round(elapsed, 1),
            "requests": total,
            "rate": round(total / elapsed, 1),
            "threads": self.threads,
            "errors": self.error_count,
            "error_samples": self.errors,
            "counts": dict(self.counts),
            "latency_ms": {op: percentiles(values) for op, values in sorted(self.latencies.items())},
            "sdr_ids": self.sdr_ids,
            "session_ids": self.session_ids,
        }


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1] * 1000, 1)}


def main(argv: list[str]) -> int:
    world_path, seconds, rate, out_path = argv[1], float(argv[2]), float(argv[3]), argv[4]
    with open(world_path) as handle:
        world = json.load(handle)
    report = Load(world, seconds, rate).run()
    with open(out_path, "w") as handle:
        json.dump(report, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
