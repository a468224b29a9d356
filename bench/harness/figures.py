"""Figures from series: throughput, tail latency and CPU per request, with ratios to references."""

from __future__ import annotations

import statistics
from typing import Any

from .registry import Figure

Summary = dict[str, Any]


_PER_RUN = {
    "rps": lambda run: run["rps"],
    "items_per_s": lambda run: run["items_per_s"],
    "p99_ms": lambda run: run["latency_ms"]["p99"],
    "cpu_ms_per_request": lambda run: run["cpu_ms_per_request"],
}


def _ratio(pick: str, measured: Summary, reference: Summary) -> float:
    """Median of the per-round ratios when both were measured in the same interleaved rounds (the
    rounds share the machine's state, so their ratio is steadier than the ratio of the medians)."""
    mine, theirs = measured.get("details", []), reference.get("details", [])
    if mine and len(mine) == len(theirs) and pick in _PER_RUN:
        get = _PER_RUN[pick]
        return statistics.median(get(a) / get(b) for a, b in zip(mine, theirs, strict=True) if get(b))
    return measured[pick] / reference[pick]


def _ratios(pick: str, measured: Summary, references: dict[str, Summary]) -> dict[str, float]:
    return {name: _ratio(pick, measured, ref) for name, ref in references.items() if ref.get(pick)}


def throughput(
    label: str,
    measured: Summary,
    references: dict[str, Summary] | None = None,
    *,
    target: str = "",
    at_least_ratio: tuple[str, float] | None = None,
    at_least: float | None = None,
    items: str = "",
) -> Figure:
    """Requests (or items, when `items` names them) per second; met when the ratio or floor holds."""
    pick = "items_per_s" if items else "rps"
    ratios = _ratios(pick, measured, references or {})
    met = None
    if at_least_ratio is not None:
        met = ratios.get(at_least_ratio[0], 0.0) >= at_least_ratio[1]
    elif at_least is not None:
        met = measured[pick] >= at_least
    return Figure(
        name=f"{label}, {measured['connections']} connections: throughput",
        measured=measured[pick],
        unit=f"{items}/s" if items else "req/s",
        target=target,
        met=met,
        ratios=ratios,
    )


def tail_latency(
    label: str,
    measured: Summary,
    references: dict[str, Summary] | None = None,
    *,
    under_ms: float | None = None,
) -> Figure:
    return Figure(
        name=f"{label}, {measured['connections']} connections: p99 latency",
        measured=measured["p99_ms"],
        unit="ms",
        target=f"< {under_ms:g} ms" if under_ms is not None else "",
        met=measured["p99_ms"] < under_ms if under_ms is not None else None,
        ratios=_ratios("p99_ms", measured, references or {}),
    )


def cpu_per_request(
    label: str,
    measured: Summary,
    references: dict[str, Summary] | None = None,
    *,
    of: str,
    at_most_ms: float | None = None,
) -> Figure:
    return Figure(
        name=f"{label}, {measured['connections']} connections: CPU per request ({of})",
        measured=measured["cpu_ms_per_request"],
        unit="ms",
        target=f"≤ {at_most_ms:g} ms" if at_most_ms is not None else "",
        met=measured["cpu_ms_per_request"] <= at_most_ms if at_most_ms is not None else None,
        ratios=_ratios("cpu_ms_per_request", measured, references or {}),
    )
