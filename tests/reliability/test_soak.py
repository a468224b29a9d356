"""The soak (`make soak`, not in CI): mixed traffic for SOAK_SECONDS (600 by default) against gunicorn
(2 workers x 4 threads), a Celery worker and beat on a private PostgreSQL and Redis, from a separate
load process (tests/reliability/soak_load.py) at SOAK_RATE requests per second (40 by default).

It passes with zero errors (every answer the expected status, no transport error), every delivery
made (nothing left pending or dead once the load stops), and flat memory: the resident memory of the
web processes and of the worker processes, sampled every 10 seconds, grows after warm-up by no more
than SOAK_MEMORY_MARGIN_MIB (default 24) or 10 %, whichever is larger.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability import hubworld
from tests.reliability.hubworld import HubWorld
from tests.reliability.stack import ROOT, Process, rss_kib, wait_for

pytestmark = [pytest.mark.soak]

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
RATE = float(os.environ.get("SOAK_RATE", "40"))
MARGIN_MIB = float(os.environ.get("SOAK_MEMORY_MARGIN_MIB", "24"))
MARGIN_FRACTION = 0.10
SAMPLE_SECONDS = 10.0
# Memory settles once every code path has run and the connection pools are full.
WARMUP_SECONDS = min(60.0, SECONDS / 3)


@pytest.fixture
def world(hub_factory: Any) -> Iterator[HubWorld]:
    # Production's retry pace, and the sweep every 5 s as configured by default.
    hub = hub_factory(
        ROUTING_BACKOFF_BASE_SECONDS=2.0,
        ROUTING_BACKOFF_CAP_SECONDS=30.0,
        ROUTING_SWEEP_SECONDS=5,
        ROUTING_MAX_ATTEMPTS=12,
    )
    built = hubworld.build(hub, start=lambda: hub.start(workers=1, beat=True))
    yield built
    built.cso_endpoint.stop()
    built.csp_endpoint.stop()


def rss_by_pid(process: Process) -> dict[int, float]:
    """Resident memory (MiB) of each process of the group: the parent and what it forked."""
    return {pid: round(rss_kib(pid) / 1024, 1) for pid in process.group_pids()}


def slope_mib_per_hour(samples: list[tuple[float, float]]) -> float:
    """The least-squares trend after warm-up, for the record (the pass mark is the growth)."""
    points = [(at, mib) for at, mib in samples if at >= WARMUP_SECONDS]
    mean_t = statistics.fmean(t for t, _ in points)
    mean_m = statistics.fmean(m for _, m in points)
    spread = sum((t - mean_t) ** 2 for t, _ in points) or 1.0
    return sum((t - mean_t) * (m - mean_m) for t, m in points) / spread * 3600


def growth(samples: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(baseline after warm-up, end, growth) in MiB: the median of the first samples after warm-up
    against the median of the last ones."""
    settled = [mib for at, mib in samples if at >= WARMUP_SECONDS]
    assert len(settled) >= 4, f"too few samples after warm-up: {samples}"
    head, tail_ = settled[: max(3, len(settled) // 5)], settled[-max(3, len(settled) // 5) :]
    baseline, end = statistics.median(head), statistics.median(tail_)
    return baseline, end, end - baseline


def test_ten_minutes_of_mixed_traffic_no_errors_and_flat_memory(world: HubWorld, tmp_path: Any):
    assert SECONDS >= 90, "SOAK_SECONDS: at least 90, so that memory is sampled well past the warm-up"
    hub = world.hub
    assert hub.web is not None and hub.workers
    groups = {"web": hub.web, "worker": hub.workers[0]}
    world_file, out_file = tmp_path / "world.json", tmp_path / "load.json"
    world_file.write_text(json.dumps(world.describe()))
    load = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reliability.soak_load",
            str(world_file),
            str(SECONDS),
            str(RATE),
            str(out_file),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in groups}
    by_pid: dict[str, dict[int, list[float]]] = {name: {} for name in groups}
    started = time.monotonic()
    try:
        while load.poll() is None:
            at = time.monotonic() - started
            for name, process in groups.items():
                assert process.alive(), hub.diagnostics()
                rss = rss_by_pid(process)
                samples[name].append((round(at, 1), round(sum(rss.values()), 1)))
                if at >= WARMUP_SECONDS:
                    for pid, mib in rss.items():
                        by_pid[name].setdefault(pid, []).append(mib)
            if at > SECONDS + 180:
                raise AssertionError("the load process did not finish in time")
            time.sleep(SAMPLE_SECONDS)
    finally:
        if load.poll() is None:
            load.kill()
    assert load.returncode == 0, "the load process failed"
    report = json.loads(out_file.read_text())

    # Every delivery goes out once the load stops: SDRs, sessions, statuses, all to the CSP.
    def drained() -> bool:
        rows = dict(hub.query("SELECT state, count(*) FROM routing_outboxmessage GROUP BY state"))
        return set(rows) <= {"DELIVERED"}

    wait_for(drained, timeout=120, what=f"the outbox to drain\n{hub.diagnostics()}")
    outbox = dict(hub.query("SELECT state, count(*) FROM routing_outboxmessage GROUP BY state"))
    delivered_sdrs = {sdr["sdr_id"] for r in world.csp_endpoint.of("sdr.created") for sdr in r.json()["sdrs"]}
    ended = {r.json()["session"]["id"] for r in world.csp_endpoint.of("session.ended")}

    figures = {name: growth(values) for name, values in samples.items()}
    summary = {
        "seconds": report["seconds"],
        "requests": report["requests"],
        "rate_per_second": report["rate"],
        "errors": report["errors"],
        "counts": report["counts"],
        "latency_ms": report["latency_ms"],
        "outbox": outbox,
        "memory_mib": {
            name: {
                "baseline": round(b, 1),
                "end": round(e, 1),
                "growth": round(g, 1),
                "trend_per_hour": round(slope_mib_per_hour(samples[name]), 1),
                # each process after warm-up: (first, last)
                "processes": {pid: (values[0], values[-1]) for pid, values in by_pid[name].items()},
                "samples": samples[name],
            }
            for name, (b, e, g) in figures.items()
        },
    }
    print("\nsoak:")
    for key, value in summary.items():
        print(f"  {key}: {json.dumps(value)}")
    if os.environ.get("SOAK_REPORT"):
        with open(os.environ["SOAK_REPORT"], "w") as handle:
            json.dump(summary, handle, indent=1)

    assert report["errors"] == 0, report["error_samples"]
    # The hub kept up: the load reached most of its rate (a slow hub shows as a lower rate).
    assert report["requests"] >= 0.8 * RATE * SECONDS, (report["requests"], RATE * SECONDS)
    assert set(report["sdr_ids"]) <= delivered_sdrs, "SDRs stored but never delivered"
    assert set(report["session_ids"]) <= ended, "sessions completed but never reported"
    stored = hub.query("SELECT count(*) FROM settlement_sdr")[0][0]
    assert stored == len(report["sdr_ids"])
    for name, (baseline, end, grew) in figures.items():
        allowed = max(MARGIN_MIB, MARGIN_FRACTION * baseline)
        assert grew <= allowed, (
            f"{name} memory grew {grew:.1f} MiB ({baseline:.1f} -> {end:.1f}), allowed {allowed:.1f}"
        )
