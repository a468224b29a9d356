"""`make demo`: a day of roaming, played over real HTTP against a running hub.

    python -m demo.run [--hub-url http://127.0.0.1:8000] [--out var/demo-reports] [--verbose]

Run it from the project root with the hub's environment (the same DATABASE_URL and keys as the
hub: onboarding runs the hub's management commands). Exits 0 only if every step did what it should.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .context import Demo, settled_month
from .hub import PROJECT_ROOT, HubError, readiness
from .report import Reporter, Step, StepFailed, latency_line
from .steps import charging, drivers, network, onboarding, sdrs, settlement

StepFunction = Callable[[Demo, Step], None]

# title, function, titles of the steps it needs
STEPS: list[tuple[str, StepFunction, tuple[str, ...]]] = [
    ("Onboarding with manage.py", onboarding.run, ()),
    ("Locations and tariffs published", network.publish, ("Onboarding with manage.py",)),
    ("EVSE status stream (bulk, pushed)", network.stream, ("Locations and tariffs published",)),
    ("Driver credentials", drivers.credentials, ("Onboarding with manage.py",)),
    ("Drivers authorize", drivers.authorize, ("Driver credentials", "Locations and tariffs published")),
    ("Remote start (commands)", charging.remote, ("Driver credentials", "Locations and tariffs published")),
    ("Sessions with progress", charging.sessions, ("Locations and tariffs published",)),
    ("SDRs (bulk, checked, rated)", sdrs.intake, ("Sessions with progress",)),
    ("Dispute and correction", sdrs.dispute, ("SDRs (bulk, checked, rated)",)),
    ("Settlement run", settlement.run, ("Dispute and correction",)),
    ("Statement reports", settlement.reports, ("Settlement run",)),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo.run", description=__doc__.splitlines()[0])
    parser.add_argument("--hub-url", default="http://127.0.0.1:8000", help="where the hub runs")
    parser.add_argument(
        "--out", default=str(PROJECT_ROOT / "var" / "demo-reports"), help="folder for the statements' reports"
    )
    parser.add_argument("--verbose", action="store_true", help="list every check, not only failed ones")
    return parser.parse_args(argv)


def run_steps(demo: Demo) -> None:
    reporter = demo.reporter
    for title, function, needs in STEPS:
        step = reporter.step(title)
        missing = [need for need in needs if need in demo.failed]
        started = datetime.now(UTC)
        if missing:
            step.skipped = f"needs {', '.join(missing)}"
        else:
            try:
                function(demo, step)
            except (StepFailed, HubError) as exc:
                step.error = str(exc)
            except Exception as exc:  # a surprise must end as an honest FAILED, not a traceback
                step.error = f"{type(exc).__name__}: {exc}"
                if reporter.verbose:
                    traceback.print_exc()
        step.seconds = (datetime.now(UTC) - started).total_seconds()
        if not step.ok:
            demo.failed.add(title)
        reporter.step_done(step)
    endpoints_step(demo, reporter.step("Deliveries verified by the partners"))


def endpoints_step(demo: Demo, step: Step) -> None:
    """Every message the hub sent was signed right, and nothing unexpected arrived."""
    total: Counter[str] = Counter()
    duplicates = 0
    for partner in demo.partners.values():
        inbox = partner.endpoint.inbox
        total.update(partner.endpoint.event_counts())
        duplicates += inbox.duplicates
        step.check(f"{partner.ident}: every message had a valid signature", [], inbox.refused)
        step.check(f"{partner.ident}: nothing arrived at an unknown path", [], inbox.unexpected)
    for key, charge_point in demo.charge_points.items():
        cso = demo.partner(key)
        commands = [(d.body or {}).get("command_id") for d in cso.endpoint.deliveries(path="commands")]
        step.check(
            f"{cso.ident}: the outcome of every command it received was reported",
            (sorted(commands), []),
            (sorted(charge_point.reported), charge_point.errors),
        )
    step.count(f"{sum(total.values())} messages received and verified, {duplicates} repeats ignored")
    step.count(", ".join(f"{event} {count}" for event, count in sorted(total.items())))
    demo.reporter.step_done(step)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    hub_url = args.hub_url.rstrip("/")
    reporter = Reporter(verbose=args.verbose)
    reporter.say(f"A day of roaming through the hub at {hub_url}")
    try:
        ready = readiness(hub_url)
    except HubError as exc:
        reporter.say(f"FAILED: {exc}")
        return 2
    checks = ready.get("checks") or {}
    reporter.say("  hub ready: " + ", ".join(f"{name} {state}" for name, state in checks.items()))
    grace = int(os.environ.get("SETTLEMENT_GRACE_DAYS", "2"))
    period, day = settled_month(datetime.now(UTC), grace)
    demo = Demo(
        hub_url=hub_url,
        out_dir=Path(args.out).resolve(),
        reporter=reporter,
        suffix=secrets.token_hex(3).upper(),
        day=day,
        period=period,
    )
    reporter.say(
        f"  the day played is {day}: sessions and SDRs carry its times, so that the settlement run can "
        f"settle {period} (a month is settled once its grace period has passed)"
    )
    reporter.say("")
    try:
        run_steps(demo)
    finally:
        for charge_point in demo.charge_points.values():
            charge_point.stop()
        for partner in demo.partners.values():
            partner.endpoint.stop()
    lines = [latency_line("Authorization from hub data ", demo.latencies.get("hub", []))]
    lines.append(latency_line("Authorization asked to a CSP", demo.latencies.get("routed", [])))
    lines.append(f"Reports: {len(demo.reports)} files in {demo.out_dir}")
    lines.append(f"Admin: {hub_url}/admin/ (with `make run`: admin / admin-demo-password)")
    lines.append(f"  finance pages (statements) at {hub_url}/finance/")
    lines.append(
        f"  the demo's partners are named '... {demo.suffix}'; API docs at {hub_url}/api/i3/v1/docs/"
    )
    reporter.summary(lines)
    return 0 if reporter.all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
