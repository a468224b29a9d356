"""`POST /api/i3/v1/authorizations/` decided from the hub's own data, beside ping and the reference peer.

Set-up through the hub's doors: a CSO and two CSPs onboarded and given agreements by the management
commands; one CSP uploads RFID cards with whitelist ALWAYS (`POST /credentials/`), the other has the
hub issue cards (`POST /credentials/issue`). The CSO then authorizes those cards at its EVSEs, each
request signed with its own nonce; every answer must be `200 ACCEPTED`, decided by the hub and
recorded. In the same run, interleaved: ping (the stack's ceiling) and the reference peer
(extrawest-ocpi on uvicorn, same number of workers) answering OCPI token authorize from memory
for the same cards.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from harness import figures
from harness.context import Context
from harness.hub import API, Signer
from harness.measure import Target
from harness.peer import PATH_PREFIX, Peer
from harness.registry import Result, benchmark
from harness.wrk import Request

from .ping import ping_target

CPU_TARGET_MS = 1.5
P99_TARGET_MS = 20.0
P99_AT_CONNECTIONS = 10


def card_uid(index: int) -> str:
    """A 7-byte RFID UID (upper-case hex), distinct per index."""
    return f"04{index:012X}"


def authorization_requests(operator_id: str, uids: list[str], seed: int) -> object:
    rng = random.Random(seed)

    def make(signer: Signer, count: int) -> Iterator[Request]:
        for _ in range(count):
            body = {
                "evse_id": f"{operator_id}*E{rng.randrange(1, 5000)}*1",
                "credential": {"type": "RFID", "value": rng.choice(uids)},
            }
            yield signer.request("POST", "/authorizations/", body)

    return make


def peer_target(peer: Peer, uids: list[str], seed: int) -> Target:
    rng = random.Random(seed)
    headers = {
        "Authorization": peer.authorization_header,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }

    def make(count: int) -> list[Request]:
        requests = []
        for _ in range(count):
            evse = rng.randrange(1, 5000)
            body = json.dumps(
                {"location_id": f"LOC{evse // 10}", "evse_uids": [f"E{evse}"]}, separators=(",", ":")
            )
            path = f"{PATH_PREFIX}/{rng.choice(uids)}/authorize?token_type=RFID"
            requests.append(Request("POST", path, body.encode(), headers))
        return requests

    return Target(
        name="peer",
        url=peer.base_url + PATH_PREFIX,
        make_requests=make,
        cpu_groups={"peer": peer.pids},
        cost_groups=("peer",),
        expect_status=200,
        expect_body='"allowed":"ALLOWED"',
    )


def _check(answer: object, reason: str) -> None:
    body = getattr(answer, "body", None)
    if getattr(answer, "status", None) != 200 or not isinstance(body, dict):
        raise RuntimeError(f"authorization pre-check failed: {getattr(answer, 'status', '?')} {body}")
    if (body.get("status"), body.get("decided_by"), body.get("reason")) != ("ACCEPTED", "HUB", reason):
        raise RuntimeError(f"authorization pre-check: expected ACCEPTED by HUB ({reason}), got {body}")


@benchmark(
    "authorization", title="POST /authorizations/ from hub data, beside ping and the reference peer", order=20
)
def run(ctx: Context) -> Result:
    hub = ctx.hub()
    quick = ctx.options.quick
    csp_cards, hub_cards = (200, 20) if quick else (1000, 100)

    operator = hub.onboard(name="Bench Authorization Operator", country="DE", party="BAO", roles="CSO")
    provider = hub.onboard(name="Bench Card Provider", country="NL", party="BAP", roles="CSP")
    hub_provider = hub.onboard(name="Bench Hub-Issued Provider", country="FR", party="BAH", roles="CSP")
    hub.agreement(cso=operator, csp=provider, authorization="CSP_ISSUED")
    hub.agreement(cso=operator, csp=hub_provider, authorization="HUB_ISSUED")

    uploaded = [card_uid(i) for i in range(1, csp_cards + 1)]
    items = [
        {
            "type": "RFID",
            "value": uid,
            "contract_id": f"NL-BAP-C{i:08d}",
            "status": "VALID",
            "whitelist": "ALWAYS",
        }
        for i, uid in enumerate(uploaded, start=1)
    ]
    answer = hub.client(provider).post("/credentials/?mode=full", items)
    if answer.status != 200 or answer.body.get("counts", {}).get("created") != len(items):
        raise RuntimeError(f"credential upload failed: {answer.status} {str(answer.body)[:500]}")

    issuer = hub.client(hub_provider)
    issued = [card_uid(0x10000 + i) for i in range(hub_cards)]
    for uid in issued:
        answer = issuer.post("/credentials/issue", {"type": "RFID", "value": uid})
        if answer.status != 201:
            raise RuntimeError(f"hub issuance failed: {answer.status} {answer.body}")

    assert operator.operator_id
    cso = hub.client(operator)
    evse = f"{operator.operator_id}*E1*1"
    _check(
        cso.post("/authorizations/", {"evse_id": evse, "credential": {"type": "RFID", "value": uploaded[0]}}),
        "WHITELIST_ALWAYS",
    )
    _check(
        cso.post("/authorizations/", {"evse_id": evse, "credential": {"type": "RFID", "value": issued[0]}}),
        "HUB_ISSUED",
    )

    signer = Signer(cso)
    cards = uploaded + issued
    authorization = ctx.hub_target(
        "authorization",
        signer,
        authorization_requests(operator.operator_id, cards, seed=1),
        url_path=API + "/authorizations/",
        expect_body='"status":"ACCEPTED"',
    )
    ping = ping_target(ctx, signer)
    peer = ctx.peer(uploaded)
    reference = peer_target(peer, uploaded, seed=2)

    result = Result(
        figures=[],
        setup={
            "cso": operator.operator_id,
            "csp_issued_cards": csp_cards,
            "hub_issued_cards": hub_cards,
            "peer_tokens": len(uploaded),
            "peer_command": " ".join(peer.command()[1:]).replace(f"--port {peer.port}", "--port <port>"),
        },
    )
    for connections in ctx.levels(ctx.options.connections):
        series = ctx.measurer.compare([authorization, ping, reference], connections)
        auth, ping_s, peer_s = (series[n].summary() for n in ("authorization", "ping", "peer"))
        result.series += [auth, ping_s, peer_s]
        refs = {"peer": peer_s, "ping": ping_s}
        result.figures.append(
            figures.throughput(
                "authorization", auth, refs, target="≥ peer (ratio ≥ 1.0)", at_least_ratio=("peer", 1.0)
            )
        )
        result.figures.append(
            figures.tail_latency(
                "authorization",
                auth,
                refs,
                under_ms=P99_TARGET_MS if connections == P99_AT_CONNECTIONS else None,
            )
        )
        result.figures.append(
            figures.cpu_per_request(
                "authorization",
                auth,
                {"peer": peer_s, "ping": ping_s},
                of="hub + PostgreSQL",
                at_most_ms=CPU_TARGET_MS,
            )
        )
    peer.stop()
    return result
