"""The benchmark suite: `make bench` (all), `make bench BENCH_ARGS="--only authorization"`, `--quick`.

Measures the hub over HTTP as production serves it (gunicorn gthread workers, PostgreSQL, Redis)
with wrk as a separate load generator, writes the results to bench/results/ and regenerates
docs/benchmarks.md. Everything it starts it stops, and the bench database it creates it drops,
however the run ends (Ctrl-C included).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine, peer, postgres, procs, report, wrk
from harness.context import Context, Options
from harness.measure import BenchFailure
from harness.registry import discover


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="benchmark name(s), comma-separated")
    parser.add_argument("--list", action="store_true", help="list the registered benchmarks and exit")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke variant: the first concurrency level only, 1 run of 3 s",
    )
    parser.add_argument("--runs", type=int, help="measured runs per series (default 5, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per run (default 10, quick 3)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per series (default 3, quick 1)")
    parser.add_argument("--connections", default="10,32", help="concurrent connections, comma-separated")
    parser.add_argument("--hub-threads", type=int, default=6, help="gthread threads per gunicorn worker")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (the machine has 2 cores)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        help="Redis for the hub's cache and broker (a database number of the suite's own)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="seconds to wait at most before each run for other processes to leave the CPU idle "
        "(default 30, quick 0: never wait)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not regenerate docs/benchmarks.md")
    parser.add_argument("--docs-only", action="store_true", help="regenerate docs/benchmarks.md from results")
    return parser.parse_args(argv)


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    benchmarks = discover()
    if args.list:
        for bench in benchmarks:
            print(f"{bench.name:16} {bench.title}")
        return 0
    if args.docs_only:
        print(f"wrote {report.write_docs(benchmarks, include_quick=False)}")
        return 0
    wanted = [name for item in args.only for name in item.split(",") if name]
    unknown = sorted(set(wanted) - {b.name for b in benchmarks})
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; --list shows them", file=sys.stderr)
        return 2
    selected = [b for b in benchmarks if not wanted or b.name in wanted]

    options = Options(
        quick=args.quick,
        runs=args.runs or (1 if args.quick else 5),
        duration=args.duration or (3.0 if args.quick else 10.0),
        warmup=args.warmup or (1.0 if args.quick else 3.0),
        connections=tuple(int(c) for c in args.connections.split(",")),
        hub_threads=args.hub_threads,
        wrk_threads=args.wrk_threads,
        redis_url=args.redis_url,
        quiet_wait=args.quiet_wait if args.quiet_wait is not None else (0.0 if args.quick else 30.0),
    )
    wrk.ensure_installed(may_install=os.geteuid() == 0)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work_dir = report.RESULTS / f"work-{stamp}"
    work_dir.mkdir(parents=True, exist_ok=True)
    command = "make bench" + (f' BENCH_ARGS="{" ".join(argv)}"' if argv else "")
    data: dict[str, Any] = {
        "started_at": stamp,
        "command": command,
        "quick": options.quick,
        "options": {
            "runs": options.runs,
            "duration": options.duration,
            "warmup": options.warmup,
            "connections": list(options.connections),
            "hub_workers": 2,
            "hub_threads": options.hub_threads,
            "wrk_threads": options.wrk_threads,
            "quiet_wait": options.quiet_wait,
        },
        "machine": machine.machine(),
        "versions": machine.versions(options.redis_url),
        "postgres_settings": postgres.settings_of_interest(),
        "benchmarks": {},
    }
    print(f"machine: {json.dumps(data['machine'])}")
    print(f"versions: {json.dumps(data['versions'])}")
    if any(b.name == "authorization" for b in selected):
        peer.ensure_venv()
        data["peer_versions"] = peer.versions()
        print(f"peer: {json.dumps(data['peer_versions'])}")
    for name in postgres.drop_stale():
        print(f"dropped the bench database {name} left by a suite that was killed")

    ctx = Context(options, work_dir)
    failed = False
    started = time.monotonic()
    try:
        for bench in selected:
            print(f"\n== {bench.name}: {bench.title}", flush=True)
            began = time.monotonic()
            entry: dict[str, Any] = {"title": bench.title}
            try:
                result = bench.func(ctx)
                entry.update(status="ok", figures=result.figures, series=result.series, setup=result.setup)
                entry["notes"] = result.notes
                for figure in result.figures:
                    ratios = "; ".join(f"{v:.2f}x {k}" for k, v in figure.ratios.items())
                    verdict = {True: "met", False: "NOT MET", None: ""}[figure.met]
                    print(
                        f"  {figure.name:62} {report._number(figure.measured, figure.unit):>16}"
                        f"  target {figure.target or '-':22} {verdict:8} {ratios}"
                    )
            except (BenchFailure, RuntimeError) as exc:
                failed = True
                entry.update(status="failed", error=str(exc))
                print(f"  FAILED: {exc}", file=sys.stderr)
                traceback.print_exc(file=open(work_dir / f"{bench.name}.traceback.txt", "w"))  # noqa: SIM115
            entry["seconds"] = round(time.monotonic() - began, 1)
            data["benchmarks"][bench.name] = entry
    except KeyboardInterrupt:
        print("\ninterrupted: stopping servers and dropping the bench database", file=sys.stderr)
        failed = True
        data["interrupted"] = True
    finally:
        hub = ctx._hub
        if hub is not None:
            data["hub_command"] = " ".join(["gunicorn", *hub.command()[1:]]).replace(
                f":{hub.port}", ":<port>"
            )
            data["hub_env"] = (
                "DJANGO_ENV=development DJANGO_DEBUG=false DATABASE_URL=postgres://postgres@127.0.0.1:5432/"
                f"{postgres.PREFIX}<pid> REDIS_URL={options.redis_url} CACHE_KEY_PREFIX=chbench<pid> "
                "I3_THROTTLE_DEFAULT=I3_THROTTLE_AUTHORIZATION=I3_THROTTLE_BULK=1000000/s LOG_LEVEL=WARNING"
            )
        data["wrk_commands"] = dict(ctx.measurer.commands)
        # A second Ctrl-C (or TERM) must not cut the clean-up short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        try:
            ctx.close()
        finally:
            procs.stop_all()
            signal.signal(signal.SIGINT, signal.default_int_handler)
    data["finished_at"] = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    data["seconds"] = round(time.monotonic() - started, 1)
    path = report.write_results(data, stamp, quick=options.quick)
    print(f"\nresults: {path.relative_to(report.BENCH.parent)} ({data['seconds']:.0f} s)")
    if not args.no_docs and not options.quick and not data.get("interrupted"):
        print(f"docs: {report.write_docs(benchmarks, include_quick=False).relative_to(report.BENCH.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
