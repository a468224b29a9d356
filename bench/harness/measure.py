"""Runs of the load generator against targets, with CPU accounting, and their medians.

A target is something wrk can load: a URL, a way to make fresh (signed) requests, what a correct
answer looks like, and the processes whose CPU time it costs. Targets compared with each other are
measured interleaved (A B C, A B C, ...), so slow drift of the machine hits them alike.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import wrk
from .procs import CpuProbe, machine_ticks


class BenchFailure(RuntimeError):
    """A run that cannot be reported: wrong answers, replayed nonces, socket errors."""


@dataclass
class Target:
    name: str
    url: str
    make_requests: Callable[[int], list[wrk.Request]]
    cpu_groups: dict[str, Callable[[], Iterable[int]]]
    # The groups whose CPU time is "the cost of a request" (e.g. hub + postgres).
    cost_groups: tuple[str, ...]
    expect_status: int = 200
    expect_body: str = ""
    items_per_request: int = 1
    # Upper bound on requests per second, used to size the first (warm-up) pool.
    max_rate_guess: float = 8000.0
    # Numbers summed over the answers (name -> Lua pattern with one numeric capture), and a check
    # of those sums given the number of correct answers: it returns what is wrong, if anything.
    count_patterns: dict[str, str] = field(default_factory=dict)
    check_counts: Callable[[dict[str, int], int], list[str]] | None = None
    # wrk's per-request timeout; bulk requests queue for seconds at high concurrency.
    timeout: float = 5.0
    # Slow requests need longer runs to be counted at all (even in --quick).
    min_warmup: float = 0.0
    min_duration: float = 0.0


@dataclass
class RunResult:
    target: str
    connections: int
    requests: int
    duration_s: float
    rps: float
    items_per_request: int
    items_per_s: float
    latency_ms: dict[str, float]
    cpu_s: dict[str, float]
    cpu_ms_per_request: float
    cpu_ms_per_request_by_group: dict[str, float]
    pool: int
    counted: dict[str, int]
    # Share of the machine's CPU that processes outside the benchmark used during the run.
    others_share: float

    @property
    def p99_ms(self) -> float:
        return self.latency_ms["p99"]


@dataclass
class Series:
    """Several runs of one target at one concurrency, and their medians."""

    target: str
    connections: int
    runs: list[RunResult] = field(default_factory=list)

    def median(self, pick: Callable[[RunResult], float]) -> float:
        return statistics.median(pick(run) for run in self.runs)

    def summary(self) -> dict[str, Any]:
        groups = sorted({g for run in self.runs for g in run.cpu_ms_per_request_by_group})
        return {
            "target": self.target,
            "connections": self.connections,
            "runs": len(self.runs),
            "rps": self.median(lambda r: r.rps),
            "items_per_s": self.median(lambda r: r.items_per_s),
            "p50_ms": self.median(lambda r: r.latency_ms["p50"]),
            "p90_ms": self.median(lambda r: r.latency_ms["p90"]),
            "p99_ms": self.median(lambda r: r.latency_ms["p99"]),
            "max_ms": self.median(lambda r: r.latency_ms["max"]),
            "cpu_ms_per_request": self.median(lambda r: r.cpu_ms_per_request),
            # What the cost processes could answer with every core to themselves: a bound that
            # does not move when other processes take the machine.
            "cpu_bound_rps": (os.cpu_count() or 1)
            * 1000.0
            / max(1e-9, self.median(lambda r: r.cpu_ms_per_request)),
            "others_share": self.median(lambda r: r.others_share),
            "counted_per_item": {
                name: self.median(
                    lambda r, n=name: r.counted.get(n, 0) / max(1, r.requests * r.items_per_request)
                )
                for name in sorted({n for run in self.runs for n in run.counted})
            },
            "cpu_ms_per_request_by_group": {
                g: self.median(lambda r, g=g: r.cpu_ms_per_request_by_group.get(g, 0.0)) for g in groups
            },
            "rps_each_run": [round(r.rps, 1) for r in self.runs],
            "details": [asdict(r) for r in self.runs],
        }


class Measurer:
    """Sizes request pools from a warm-up, runs wrk, checks every answer, accounts CPU."""

    def __init__(
        self,
        *,
        work_dir: Path,
        duration: float,
        runs: int,
        warmup: float,
        wrk_threads: int = 1,
        margin: float = 2.5,
        quiet_share: float = 0.15,
        quiet_wait: float = 30.0,
        log: Callable[[str], None] = print,
    ) -> None:
        self.work_dir = work_dir
        self.duration = duration
        self.runs = runs
        self.warmup = warmup
        self.wrk_threads = wrk_threads
        self.margin = margin
        self.quiet_share = quiet_share
        self.quiet_wait = quiet_wait
        # All the waiting for a quiet machine in one suite run, so a busy machine cannot stretch it.
        self.quiet_budget = 4 * quiet_wait
        self.log = log
        self._rates: dict[tuple[str, int], float] = {}
        self._counter = 0
        self.commands: dict[str, str] = {}

    def _pool_size(self, target: Target, connections: int, seconds: float) -> int:
        rate = self._rates.get((target.name, connections), target.max_rate_guess)
        return math.ceil(rate * seconds * self.margin) + 4 * connections + 20

    def _once(
        self, target: Target, connections: int, seconds: float, *, pool: int
    ) -> tuple[wrk.WrkRun, dict[str, float]]:
        self._counter += 1
        script = self.work_dir / f"{self._counter:03d}-{target.name}-c{connections}.lua"
        requests = target.make_requests(pool)
        wrk.write_script(
            script,
            requests,
            expect_status=target.expect_status,
            expect_body=target.expect_body,
            count_patterns=target.count_patterns,
        )
        del requests
        probe = CpuProbe(target.cpu_groups)
        before = probe.snapshot()
        result = wrk.run(
            url=target.url,
            script=script,
            connections=connections,
            duration=seconds,
            threads=self.wrk_threads,
            timeout=target.timeout,
        )
        # Requests still in flight when wrk stopped are finished by the server all the same: wait
        # for it to go idle, so their CPU time is all inside the window and divided by `sent`.
        self._settle(target)
        after = probe.snapshot()
        script.unlink(missing_ok=True)  # the requests inside are spent (and hold a live token)
        (self.work_dir / f"{self._counter:03d}-{target.name}-c{connections}.txt").write_text(
            " ".join(result.command) + "\n" + result.output + "\n"
        )
        cpu = CpuProbe.seconds(before, after)
        cpu["wrk"] = result.cpu_s
        cpu["other"] = max(
            0.0, cpu["machine"] - sum(v for k, v in cpu.items() if k not in ("machine", "other"))
        )
        cpu["wall"] = after.at - before.at
        shown = " ".join(
            part if not part.endswith(".lua") else f"<generated {target.name}.lua>" for part in result.command
        )
        self.commands[target.name] = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", shown)
        return result, cpu

    def wait_quiet(self) -> float:
        """Wait (up to quiet_wait seconds) until other processes leave the machine mostly idle.

        The suite's servers are idle between runs, so whatever keeps the CPU busy now is someone
        else: test runs, builds. Returns the busy share last seen; a run that starts anyway
        records how much of the machine others took during it.
        """
        if self.quiet_wait <= 0:
            return 0.0
        began = time.monotonic()
        deadline = began + min(self.quiet_wait, self.quiet_budget)
        waited = False
        while True:
            busy0, total0 = machine_ticks()
            time.sleep(1.0)
            busy1, total1 = machine_ticks()
            share = (busy1 - busy0) / max(1, total1 - total0)
            if share <= self.quiet_share or time.monotonic() >= deadline:
                self.quiet_budget = max(0.0, self.quiet_budget - (time.monotonic() - began - 1.0))
                if waited or share > self.quiet_share:
                    self.log(f"  machine busy {share:.0%} before the run (others' processes)")
                return share
            if not waited:
                self.log(
                    f"  machine busy {share:.0%} (others' processes): waiting up to {self.quiet_wait:.0f} s"
                )
                waited = True

    @staticmethod
    def _settle(target: Target, *, limit: float = 60.0) -> None:
        """Wait until the target's own processes use under 2 % of a core over 0.2 s."""
        probe = CpuProbe({name: target.cpu_groups[name] for name in target.cost_groups})
        deadline = time.monotonic() + limit
        previous = probe.snapshot()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            current = probe.snapshot()
            spent = CpuProbe.seconds(previous, current)
            if sum(spent[name] for name in target.cost_groups) < 0.02 * (current.at - previous.at):
                return
            previous = current

    def warm(self, target: Target, connections: int) -> float:
        """A short run that warms the server and measures the rate that sizes the next pools."""
        seconds = max(self.warmup, target.min_warmup)
        key = (target.name, connections)
        for _attempt in range(4):
            result, _cpu = self._once(
                target, connections, seconds, pool=self._pool_size(target, connections, seconds)
            )
            if result.exhausted:
                # The guess was too low: the reused nonces' 401s are expected; size up and retry.
                self._rates[key] = 2 * result.requests / max(result.duration_s, 1e-6)
                continue
            problems = result.problems(target.expect_status)
            if problems:
                raise BenchFailure(
                    f"{target.name} warm-up at {connections} connections: " + "; ".join(problems)
                )
            rate = result.ok_count(target.expect_status) / max(result.duration_s, 1e-6)
            if rate == 0:
                seconds *= 2  # slow requests on a busy machine: not one answer yet
                continue
            self._rates[key] = rate
            self.log(f"  warm-up {target.name:>14} c={connections:<3} {rate:9.1f} req/s")
            return rate
        raise BenchFailure(f"{target.name}: the warm-up got no usable answers in four tries")

    def measure_one(self, target: Target, connections: int) -> RunResult:
        seconds = max(self.duration, target.min_duration)
        key = (target.name, connections)
        for _attempt in range(3):
            self.wait_quiet()
            result, cpu = self._once(
                target, connections, seconds, pool=self._pool_size(target, connections, seconds)
            )
            if not result.exhausted:
                break
            # The server answered faster than any run before (the machine got quieter): that run's
            # replayed nonces say nothing about the hub, so size up and measure it again.
            self._rates[key] = 2 * result.requests / max(result.duration_s, 1e-6)
            self.log(
                f"  request pool of {result.pool} ran dry: measuring {target.name} again with a larger one"
            )
        problems = result.problems(target.expect_status)
        ok = result.ok_count(target.expect_status)
        if ok == 0 and not problems:
            problems.append(f"no answer within {seconds:g} s: give the runs a longer --duration")
        if target.check_counts is not None:
            problems += target.check_counts(result.counted, ok)
        if problems:
            raise BenchFailure(f"{target.name} at {connections} connections: " + "; ".join(problems))
        rate = ok / result.duration_s
        self._rates[key] = max(rate, self._rates.get(key, 0.0))
        # CPU covers every request the server received (see _settle); throughput only the answered.
        by_group = {name: 1000.0 * cpu[name] / max(ok, result.sent) for name in cpu if name != "wall"}
        percentiles = result.latency_us["percentiles"]
        run = RunResult(
            target=target.name,
            connections=connections,
            requests=ok,
            duration_s=result.duration_s,
            rps=rate,
            items_per_request=target.items_per_request,
            items_per_s=rate * target.items_per_request,
            latency_ms={
                "p50": percentiles["50"] / 1000.0,
                "p75": percentiles["75"] / 1000.0,
                "p90": percentiles["90"] / 1000.0,
                "p99": percentiles["99"] / 1000.0,
                "p99.9": percentiles["99.9"] / 1000.0,
                "max": result.latency_us["max"] / 1000.0,
                "mean": result.latency_us["mean"] / 1000.0,
            },
            cpu_s=cpu,
            cpu_ms_per_request=sum(by_group.get(g, 0.0) for g in target.cost_groups),
            cpu_ms_per_request_by_group=by_group,
            pool=result.pool,
            counted=result.counted,
            others_share=cpu["other"] / (cpu["wall"] * (os.cpu_count() or 1)),
        )
        self.log(
            f"  run     {target.name:>14} c={connections:<3} {run.rps:9.0f} req/s"
            f"  p50 {run.latency_ms['p50']:6.2f} ms  p99 {run.latency_ms['p99']:6.2f} ms"
            f"  cpu {run.cpu_ms_per_request:5.3f} ms/req  others {run.others_share:4.0%}"
        )
        return run

    def compare(
        self, targets: Sequence[Target], connections: int, *, runs: int | None = None
    ) -> dict[str, Series]:
        """Warm every target, then measure them interleaved; one Series per target.

        `runs` lowers the suite's number of runs for a slow benchmark (never raises it, so --quick
        stays quick).
        """
        for target in targets:
            self.warm(target, connections)
        series = {t.name: Series(t.name, connections) for t in targets}
        for _round in range(min(self.runs, runs or self.runs)):
            for target in targets:
                series[target.name].runs.append(self.measure_one(target, connections))
                time.sleep(0.5)  # let the last answers and connection closes settle
        return series
