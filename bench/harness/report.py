"""Results as JSON under bench/results/, and docs/benchmarks.md regenerated from them.

The page is bench/templates/benchmarks.md (hand-written prose) with its {{placeholders}} filled from
the newest successful result of each benchmark, so a run of one benchmark (`--only`) refreshes its
rows and keeps the others'.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .registry import Benchmark, Figure

BENCH = Path(__file__).resolve().parents[1]
RESULTS = BENCH / "results"
TEMPLATE = BENCH / "templates" / "benchmarks.md"
DOCS = BENCH.parent / "docs" / "benchmarks.md"


def write_results(data: dict[str, Any], stamp: str, *, quick: bool) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stamp}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps(data, indent=2, default=_plain) + "\n")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, Figure):
        return asdict(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def newest_per_benchmark(*, include_quick: bool) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """benchmark name -> (its newest successful result, the suite run it came from)."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for path in sorted(RESULTS.glob("*.json")):
        suite = json.loads(path.read_text())
        if (suite.get("quick") and not include_quick) or suite.get("interrupted"):
            continue
        for name, result in suite.get("benchmarks", {}).items():
            if result.get("status") == "ok":
                found[name] = (result, suite)
    return found


# --- formatting ----------------------------------------------------------------------------------


def _number(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"
    if unit.endswith("/s"):
        return f"{value:,.0f} {unit}"
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g} {unit}"


def _ratios(ratios: dict[str, float]) -> str:
    return "; ".join(f"{value:.2f}× {name}" for name, value in ratios.items()) or "—"


def _met(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "—"}[met]


def _command(name: str, quick: bool) -> str:
    args = f"--only {name}" + (" --quick" if quick else "")
    return f'`make bench BENCH_ARGS="{args}"`'


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


Newest = dict[str, tuple[dict[str, Any], dict[str, Any]]]


def summary_table(benchmarks: list[Benchmark], newest: Newest) -> str:
    rows = [
        _row("benchmark", "target", "measured (median)", "ratio (measured ÷ reference)", "met", "command"),
        _row(*["---"] * 6),
    ]
    for bench in benchmarks:
        if bench.name not in newest:
            rows.append(
                _row(
                    f"{bench.name}: {bench.title}",
                    "",
                    "not measured yet",
                    "",
                    "",
                    _command(bench.name, False),
                )
            )
            continue
        result, suite = newest[bench.name]
        for f in result["figures"]:
            rows.append(
                _row(
                    f["name"],
                    f["target"] or "—",
                    _number(f["measured"], f["unit"]),
                    _ratios(f["ratios"]),
                    _met(f["met"]),
                    _command(bench.name, suite["quick"]),
                )
            )
    return "\n".join(rows)


DETAIL_COLUMNS = (
    "benchmark", "series", "connections", "runs", "req/s (median)", "p50 ms", "p90 ms", "p99 ms",
    "CPU ms/req (cost)", "CPU-bound req/s (all cores)", "hub", "PostgreSQL", "PG shared writers",
    "Redis", "peer", "wrk", "machine taken by others", "req/s of each run",
)  # fmt: skip


def details_table(benchmarks: list[Benchmark], newest: Newest) -> str:
    rows = [_row(*DETAIL_COLUMNS), _row(*["---"] * len(DETAIL_COLUMNS))]
    for bench in benchmarks:
        if bench.name not in newest:
            continue
        result, _suite = newest[bench.name]
        for s in result["series"]:
            groups = s["cpu_ms_per_request_by_group"]
            rows.append(
                _row(
                    bench.name,
                    s["target"],
                    s["connections"],
                    s["runs"],
                    f"{s['rps']:,.0f}" if s["rps"] >= 100 else f"{s['rps']:.1f}",
                    f"{s['p50_ms']:.2f}",
                    f"{s['p90_ms']:.2f}",
                    f"{s['p99_ms']:.2f}",
                    f"{s['cpu_ms_per_request']:.3f}",
                    f"{s['cpu_bound_rps']:,.0f}" if "cpu_bound_rps" in s else "—",
                    *(
                        f"{groups[g]:.3f}" if g in groups else "—"
                        for g in ("hub", "postgres", "pg-shared", "redis", "peer", "wrk")
                    ),
                    f"{s.get('others_share', 0.0):.0%}",
                    ", ".join(f"{v:,.0f}" if v >= 100 else f"{v:.1f}" for v in s["rps_each_run"]),
                )
            )
    return "\n".join(rows)


LEG_NAMES = {
    "csp_to_cso": "CSP request → CSO endpoint",
    "cso_to_csp": "CSO result → CSP endpoint",
    "ping": "signed GET /ping round trip (reference)",
}


def latency_table(benchmarks: list[Benchmark], newest: Newest) -> str:
    """Benchmarks timed by their own clients (not wrk) list their legs in setup["legs"]."""
    rows = [_row("benchmark", "leg", "count", "p50 ms", "p90 ms", "p99 ms", "max ms"), _row(*["---"] * 7)]
    notes = []
    for bench in benchmarks:
        setup = newest.get(bench.name, ({}, {}))[0].get("setup", {})
        legs = setup.get("legs", [])
        if setup.get("cpu_ms_per_command"):
            spent = ", ".join(f"{name} {ms:.2f} ms" for name, ms in setup["cpu_ms_per_command"].items())
            notes.append(f"{bench.name}: CPU per round trip (both legs and the ping): {spent}.")
        for leg in legs:
            rows.append(
                _row(
                    bench.name,
                    LEG_NAMES.get(leg["leg"], leg["leg"]),
                    leg["count"],
                    f"{leg['p50_ms']:.1f}",
                    f"{leg['p90_ms']:.1f}",
                    f"{leg['p99_ms']:.1f}",
                    f"{leg['max_ms']:.1f}",
                )
            )
    if len(rows) == 2:
        return "No latency-only benchmark measured yet."
    return "\n".join(rows) + ("\n\n" + "\n".join(notes) if notes else "")


def environment(newest: Newest) -> str:
    suites = {suite["started_at"]: suite for _result, suite in newest.values()}
    if not suites:
        return "No results yet: run `make bench`."
    lines = []
    for stamp in sorted(suites):
        suite = suites[stamp]
        names = ", ".join(sorted(n for n, (_r, s) in newest.items() if s["started_at"] == stamp))
        o, m = suite["options"], suite["machine"]
        lines.append(
            f"- {names}: measured {stamp} with `{suite['command']}`"
            + (" (quick smoke figures, not the reference figures)" if suite["quick"] else "")
            + f"; runs of {o['duration']:g} s; load average at start {' '.join(m['load_average_at_start'])}."
        )
    suite = suites[max(suites)]
    m, v = suite["machine"], suite["versions"]
    lines += [
        f"- Machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB memory, "
        f"Linux {m['kernel']}. The load generator, gunicorn, PostgreSQL and Redis share these cores.",
        "- Versions: " + ", ".join(f"{name} {version}" for name, version in v.items()) + ".",
    ]
    peers = [s for s in suites.values() if s.get("peer_versions")]
    if peers:
        lines.append(
            "- Reference peer: "
            + ", ".join(f"{n} {ver}" for n, ver in peers[-1]["peer_versions"].items())
            + "."
        )
    if suite.get("postgres_settings"):
        settings = ", ".join(f"{n}={val}" for n, val in suite["postgres_settings"].items())
        lines.append(f"- PostgreSQL settings: {settings}.")
    return "\n".join(lines)


def commands(newest: Newest) -> str:
    suites = {id(suite): suite for _result, suite in newest.values()}
    if not suites:
        return ""
    suite = max(suites.values(), key=lambda s: s["started_at"])
    lines = ["```", f"# the hub (2 gthread workers), environment: {suite['hub_env']}", suite["hub_command"]]
    for result, _suite in newest.values():
        if result.get("setup", {}).get("peer_command"):
            lines += [
                "# the reference peer, in bench/.venv-peer",
                "uvicorn " + re.sub(r"--port \d+", "--port <port>", result["setup"]["peer_command"]),
            ]
            break
    lines.append("# the load generator, once per run, with a freshly generated script of signed requests")
    seen = set()
    for _result, s in newest.values():
        for name, command in s.get("wrk_commands", {}).items():
            if name not in seen:
                seen.add(name)
                lines.append(command)
    lines.append("```")
    return "\n".join(lines)


def render(benchmarks: list[Benchmark], *, include_quick: bool) -> str:
    newest = newest_per_benchmark(include_quick=include_quick)
    values = {
        "environment": environment(newest),
        "summary": summary_table(benchmarks, newest),
        "details": details_table(benchmarks, newest),
        "latencies": latency_table(benchmarks, newest),
        "commands": commands(newest),
    }
    text = TEMPLATE.read_text()
    missing = set(re.findall(r"\{\{(\w+)\}\}", text)) - set(values)
    if missing:
        raise ValueError(f"unknown placeholders in {TEMPLATE.name}: {sorted(missing)}")
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)


def write_docs(benchmarks: list[Benchmark], *, include_quick: bool) -> Path:
    DOCS.write_text(render(benchmarks, include_quick=include_quick))
    return DOCS
