"""Asking CSPs in real time, recording what they answer, and answering for those who do not.

A routed question is claimed by one worker (a conditional UPDATE), asked of each CSP with the signed
client and the question's deadline as timeout (several CSPs in parallel threads: the first ACCEPTED
wins), and decided with a conditional UPDATE on PENDING, so a late worker or the overdue sweep can
never decide twice. The decision goes to the CSO's endpoint through the outbox.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clearinghouse.api.secrets import field_fernet
from clearinghouse.lib.crypto import decrypt
from clearinghouse.routing import client
from clearinghouse.routing.services import outbox_enqueue
from partners.models import Partner
from partners.selectors import endpoint_for, signing_user_of

from ..decision import (
    CspAnswer,
    Reason,
    RoutedDecision,
    Status,
    decide_routed,
    fallback,
    read_csp_answer,
    rfc3339,
)
from ..keys import unseal
from ..models import AuthorizationRecord
from ..selectors import authorizations_overdue, outcome_of

logger = logging.getLogger(__name__)

QUESTION_EVENT = "authorization.request"
QUESTION_PATH = "authorizations"
RESULT_EVENT = "authorization.result"
RESULT_PATH = "authorizations/results"
MAX_PARALLEL_QUESTIONS = 32

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None


def _executor() -> ThreadPoolExecutor:
    """One pool per process (Celery forks workers after import), reused so each thread keeps its
    pooled HTTP connections between questions."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL_QUESTIONS, thread_name_prefix="csp-question")
            _pool_pid = os.getpid()
        return _pool


@dataclass(frozen=True)
class _Target:
    csp_id: int
    provider_id: str
    url: str
    secret: str
    key_id: str


def _target_of(csp_id: int) -> _Target | None:
    """Where and with which key to ask a CSP; None when it cannot be asked."""
    partner = Partner.objects.filter(pk=csp_id, status=Partner.Status.ACTIVE).first()
    endpoint = endpoint_for(partner_id=csp_id, role="CSP")
    signer = signing_user_of(partner_id=csp_id)
    if partner is None or endpoint is None or signer is None:
        return None
    try:
        secret = decrypt(field_fernet(), signer.hmac_secret_encrypted)
    except ValueError:
        logger.error("the signing secret of partner %s cannot be decrypted with the configured keys", csp_id)
        return None
    return _Target(
        csp_id=csp_id,
        provider_id=partner.provider_id,
        url=endpoint.url.rstrip("/") + "/" + QUESTION_PATH,
        secret=secret,
        key_id=signer.user.get_username(),
    )


def _failure_of(exc: client.DeliveryFailed) -> str:
    if exc.timed_out:
        return Reason.CSP_TIMEOUT
    return Reason.CSP_ERROR if exc.status_code is not None else Reason.CSP_UNREACHABLE


def _ask(target: _Target, payload: dict[str, Any], timeout: float, contract_id: str) -> CspAnswer:
    """One question to one CSP (runs in a pool thread: no database access here)."""
    try:
        response = client.signed_post(
            url=target.url,
            payload=payload,
            secret=target.secret,
            key_id=target.key_id,
            message_id=str(uuid.uuid4()),
            event_type=QUESTION_EVENT,
            timeout=timeout,
        )
    except client.DeliveryFailed as exc:
        failure = _failure_of(exc)
        # The error text may quote the CSP's answer; only its kind is logged.
        logger.info(
            "authorization %s: CSP %s did not answer (%s)",
            payload["authorization_id"],
            target.csp_id,
            failure,
        )
        return CspAnswer(csp_id=target.csp_id, failure=failure)
    except Exception:
        logger.exception("authorization %s: asking CSP %s failed", payload["authorization_id"], target.csp_id)
        return CspAnswer(csp_id=target.csp_id, failure=Reason.CSP_ERROR)
    return read_csp_answer(
        response.body,
        csp_id=target.csp_id,
        authorization_id=payload["authorization_id"],
        provider_id=target.provider_id,
        contract_id=contract_id,
    )


def _ask_all(
    targets: list[_Target], payload: dict[str, Any], *, timeout: float, contract_id: str, first_accept: bool
) -> list[CspAnswer]:
    """Ask every target at once; the answers in the order they came, then the silent ones."""
    answers: list[CspAnswer] = []
    if len(targets) == 1:
        answers.append(_ask(targets[0], payload, timeout, contract_id))
    elif targets:
        pool = _executor()
        pending: set[Future[CspAnswer]] = {
            pool.submit(_ask, target, payload, timeout, contract_id) for target in targets
        }
        # A little beyond the deadline: each question ends by its own timeout.
        give_up = time.monotonic() + timeout + 0.5
        while pending:
            left = give_up - time.monotonic()
            if left <= 0:
                break
            done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            for future in done:
                answers.append(future.result())
            if first_accept and any(a.status == Status.ACCEPTED and not a.failure for a in answers):
                break
        for future in pending:
            future.cancel()  # not started yet: no need to ask any more
    answered = {answer.csp_id for answer in answers}
    answers.extend(
        CspAnswer(csp_id=t.csp_id, failure=Reason.CSP_TIMEOUT) for t in targets if t.csp_id not in answered
    )
    return answers


def authorization_route(*, authorization_id: int) -> bool:
    """Ask the CSP(s) a PENDING authorization is routed to, and record the decision.

    Claimed with a conditional UPDATE, so a task delivered twice asks once. True if this call
    decided the question.
    """
    now = timezone.now()
    claimed = AuthorizationRecord.objects.filter(
        pk=authorization_id, status=Status.PENDING, routed_at__isnull=True
    ).update(routed_at=now)
    if not claimed:
        return False
    record = AuthorizationRecord.objects.select_related("cso").get(pk=authorization_id)
    broadcast = record.csp_id is None
    targets: list[_Target] = []
    answers: list[CspAnswer] = []
    for csp_id in record.routed_to:
        target = _target_of(int(csp_id))
        if target is None:
            answers.append(CspAnswer(csp_id=int(csp_id), failure=Reason.CSP_UNREACHABLE))
        else:
            targets.append(target)
    remaining = (record.deadline_at - now).total_seconds() if record.deadline_at else 0.0
    if remaining <= 0:
        answers.extend(CspAnswer(csp_id=t.csp_id, failure=Reason.CSP_TIMEOUT) for t in targets)
    elif targets:
        payload = {
            "authorization_id": record.pk,
            "cso": {"operator_id": record.cso.operator_id, "name": record.cso.name},
            "evse_id": record.evse_id,
            "credential": unseal(record.pending_credential),
            "requested_at": rfc3339(record.created_at),
            "answer_before": rfc3339(record.deadline_at),
        }
        answers.extend(
            _ask_all(
                targets, payload, timeout=remaining, contract_id=record.contract_id, first_accept=broadcast
            )
        )
    routed = decide_routed(answers, whitelist=record.whitelist or None, broadcast=broadcast)
    return authorization_decide(authorization_id=authorization_id, routed=routed)


@transaction.atomic
def authorization_decide(
    *, authorization_id: int, routed: RoutedDecision, now: datetime | None = None
) -> bool:
    """Record the decision of a PENDING question and deliver it to the CSO; False if it was decided
    already (by another worker or the overdue sweep)."""
    now = now or timezone.now()
    record = AuthorizationRecord.objects.get(pk=authorization_id)
    decision, answer = routed.decision, routed.answer
    changes: dict[str, Any] = {
        "status": decision.status,
        "reason": decision.reason,
        "decided_by": decision.decided_by,
        "decided_at": now,
        "latency_ms": max(0, round((now - record.created_at).total_seconds() * 1000)),
        "pending_credential": "",
    }
    if answer is not None:
        changes["csp_id"] = answer.csp_id
        changes["contract_id"] = answer.contract_id or record.contract_id
    if decision.status == Status.ACCEPTED:
        default = now + timedelta(minutes=settings.AUTHORIZATION_VALIDITY_MINUTES)
        given = answer.valid_until if answer is not None else None
        changes["valid_until"] = given if given is not None and given > now else default
    updated = AuthorizationRecord.objects.filter(pk=authorization_id, status=Status.PENDING).update(**changes)
    if not updated:
        return False
    record = AuthorizationRecord.objects.select_related("csp").get(pk=authorization_id)
    outbox_enqueue(
        partner_id=record.cso_id,
        role="CSO",
        event_type=RESULT_EVENT,
        path=RESULT_PATH,
        payload=outcome_of(record).to_json(),
    )
    return True


def authorizations_expire_overdue(*, now: datetime | None = None) -> int:
    """Answer routed questions that no worker answered in time (the worker died, or the broker was
    down when they were asked) with the fallback of their whitelist policy."""
    now = now or timezone.now()
    before = now - timedelta(seconds=settings.AUTHORIZATION_OVERDUE_GRACE_SECONDS)
    decided = 0
    for authorization_id in authorizations_overdue(before=before):
        whitelist = (
            AuthorizationRecord.objects.filter(pk=authorization_id)
            .values_list("whitelist", flat=True)
            .first()
        )
        routed = RoutedDecision(fallback(whitelist=whitelist or None, failure=Reason.CSP_TIMEOUT), None)
        decided += authorization_decide(authorization_id=authorization_id, routed=routed, now=now)
    return decided
