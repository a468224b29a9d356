"""The benchmarks the suite knows: each module in bench/suite/ registers one with @benchmark.

A benchmark is a function of a Context that returns a Result: its figures (each with its target
and its ratio to the reference measured in the same run) and the series behind them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Context


@dataclass
class Figure:
    """One reported number: what, how much, against which target and which reference."""

    name: str
    measured: float
    unit: str
    target: str = ""
    met: bool | None = None
    # measured ÷ reference, per reference measured in the same run ("peer", "ping", "GROUP BY"...)
    ratios: dict[str, float] = field(default_factory=dict)


@dataclass
class Result:
    figures: list[Figure]
    series: list[dict[str, Any]] = field(default_factory=list)
    setup: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    order: int
    func: Callable[[Context], Result]


REGISTRY: dict[str, Benchmark] = {}


def benchmark(
    name: str, *, title: str, order: int
) -> Callable[[Callable[[Context], Result]], Callable[[Context], Result]]:
    def register(func: Callable[[Context], Result]) -> Callable[[Context], Result]:
        if name in REGISTRY:
            raise ValueError(f"benchmark {name!r} registered twice")
        REGISTRY[name] = Benchmark(name=name, title=title, order=order, func=func)
        return func

    return register


def discover() -> list[Benchmark]:
    """Import every module of bench/suite/ (each registers its benchmark) and list them in order."""
    import suite

    for module in pkgutil.iter_modules(suite.__path__):
        importlib.import_module(f"suite.{module.name}")
    return sorted(REGISTRY.values(), key=lambda b: (b.order, b.name))
