"""What each step expected and what happened, printed as the demo goes and summed up at the end."""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass(frozen=True)
class Check:
    """One expectation of a step and what the hub (or a partner endpoint) did."""

    label: str
    expected: str
    actual: str
    ok: bool


class StepFailed(Exception):
    """Raised inside a step when it cannot go on; the step is reported FAILED with this reason."""


@dataclass
class Step:
    """A step of the day: its checks, the counts shown in the summary, and how long it took."""

    number: int
    title: str
    checks: list[Check] = field(default_factory=list)
    counts: list[str] = field(default_factory=list)
    error: str = ""
    skipped: str = ""
    seconds: float = 0.0

    def check(self, label: str, expected: Any, actual: Any) -> bool:
        """Expect equality; record both sides as text."""
        return self.check_that(label, expected == actual, expected, actual)

    def check_that(self, label: str, ok: bool, expected: Any, actual: Any) -> bool:
        """Record a check whose verdict the caller computed (a range, a subset, a code among several)."""
        self.checks.append(Check(label, _text(expected), _text(actual), bool(ok)))
        return bool(ok)

    def count(self, text: str) -> None:
        self.counts.append(text)

    @property
    def ok(self) -> bool:
        return not self.error and not self.skipped and all(c.ok for c in self.checks)

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "SKIPPED"
        return "OK" if self.ok else "FAILED"

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return "[" + ", ".join(str(v) for v in items) + "]"
    return str(value)


def percentile(values: Iterable[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of the values; 0.0 for none."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def latency_line(label: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{label}: none measured"
    ms = [s * 1000 for s in seconds]
    return (
        f"{label}: n={len(ms)}  p50 {percentile(ms, 50):.0f} ms  p95 {percentile(ms, 95):.0f} ms"
        f"  max {max(ms):.0f} ms  (mean {statistics.fmean(ms):.0f} ms)"
    )


class Reporter:
    """Prints each step when it ends and the summary at the end."""

    def __init__(self, out: TextIO = sys.stdout, *, verbose: bool = False) -> None:
        self.out = out
        self.verbose = verbose
        self.steps: list[Step] = []
        self.started = time.monotonic()

    def step(self, title: str) -> Step:
        step = Step(number=len(self.steps) + 1, title=title)
        self.steps.append(step)
        return step

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step_done(self, step: Step) -> None:
        passed = sum(1 for c in step.checks if c.ok)
        head = f"{step.number:>2} {step.verdict:<7} {step.title}"
        self.say(f"{head}  ({passed}/{len(step.checks)} checks, {step.seconds:.1f} s)")
        for line in step.counts:
            self.say(f"             {line}")
        if step.skipped:
            self.say(f"             skipped: {step.skipped}")
        if step.error:
            self.say(f"             stopped: {step.error}")
        for check in step.checks if self.verbose else step.failures():
            mark = "ok" if check.ok else "FAILED"
            self.say(f"             [{mark}] {check.label}")
            self.say(f"                 expected: {check.expected}")
            self.say(f"                 happened: {check.actual}")

    @property
    def all_ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    def summary(self, lines: list[str]) -> None:
        elapsed = time.monotonic() - self.started
        failed = [s for s in self.steps if not s.ok]
        self.say("")
        self.say("=" * 78)
        self.say("Summary")
        for step in self.steps:
            first = step.counts[0] if step.counts else (step.error or step.skipped)[:100]
            self.say(f"  {step.verdict:<7} {step.number:>2}. {step.title:<36} {first}")
        for line in lines:
            self.say(f"  {line}")
        verdict = "every step did what it should" if not failed else f"{len(failed)} step(s) failed"
        self.say(f"  Result: {'OK' if not failed else 'FAILED'}: {verdict} ({elapsed:.1f} s)")
        self.say("=" * 78)
