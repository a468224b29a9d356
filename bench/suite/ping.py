"""`GET /api/i3/v1/ping`: a signed, authenticated request that does no database work.

It costs what every I3 request costs before its view runs (WSGI, middleware, JWT, the principal
from the cache, the HMAC check, the nonce claim and the throttle counter in Redis), so it is the
ceiling any endpoint of this stack can reach.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness import figures
from harness.context import Context
from harness.hub import API, Signer
from harness.registry import Result, benchmark
from harness.wrk import Request

# The authorization benchmark measures ping again, interleaved with its own runs; three are enough here.
RUNS = 3


def ping_requests(signer: Signer, count: int) -> Iterator[Request]:
    for _ in range(count):
        yield signer.request("GET", "/ping")


def ping_target(ctx: Context, signer: Signer):  # type: ignore[no-untyped-def]
    return ctx.hub_target("ping", signer, ping_requests, url_path=API + "/ping", expect_body='"partner_id"')


@benchmark(
    "ping", title="GET /ping: signed and authenticated, no database work (the stack's ceiling)", order=10
)
def run(ctx: Context) -> Result:
    hub = ctx.hub()
    operator = hub.onboard(name="Bench Ping Operator", country="DE", party="BPG", roles="CSO")
    target = ping_target(ctx, Signer(hub.client(operator)))
    result = Result(figures=[], setup={"partner": operator.operator_id})
    for connections in ctx.levels(ctx.options.connections):
        summary = ctx.measurer.compare([target], connections, runs=RUNS)["ping"].summary()
        result.series.append(summary)
        result.figures += [
            figures.throughput("ping", summary),
            figures.tail_latency("ping", summary),
            figures.cpu_per_request("ping", summary, of="hub + PostgreSQL"),
        ]
    return result
