"""Delivering one channel: its lease, head-of-line order, and one attempt per message."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from clearinghouse.api.secrets import field_fernet
from clearinghouse.db import statement_cursor
from clearinghouse.lib.crypto import decrypt
from clearinghouse.tasking import run_in_background
from partners.models import Partner

from . import client
from .hooks import hook_call, hook_failure, hook_registered, hook_run
from .models import DeliveryChannel, OutboxMessage
from .selectors import Route, head_due_at, head_of, head_query, pending_head

logger = logging.getLogger(__name__)

PENDING = OutboxMessage.State.PENDING


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: half fixed, half random, so retries of many messages spread."""
    # The exponent is bounded so a large ROUTING_MAX_ATTEMPTS cannot overflow the float.
    exponent = min(max(attempts - 1, 0), 60)
    delay = min(settings.ROUTING_BACKOFF_CAP_SECONDS, settings.ROUTING_BACKOFF_BASE_SECONDS * 2**exponent)
    return delay / 2 + random.uniform(0, delay / 2)


# --- The lease ------------------------------------------------------------------------------------
# Only the worker holding a channel's lease sends its messages, so they go out one at a time and in
# order. Each change is a conditional UPDATE; a worker that dies leaves a lease that simply expires.
# They run for every message sent, so they are written out in SQL rather than built by the ORM, and
# on PostgreSQL prepared (statement_cursor): the server plans each of them once per connection.


def _update_sql(model: type[models.Model], changes: dict[str, Any], where: str) -> tuple[str, list[Any]]:
    """UPDATE model's table SET changes (field names, values as the ORM saves them) WHERE where:
    the statement and the values of its SET clause."""
    columns, values = [], []
    for name, value in changes.items():
        field = model._meta.get_field(name)
        columns.append(f"{connection.ops.quote_name(field.column)} = %s")  # type: ignore[union-attr]
        values.append(field.get_db_prep_save(value, connection))  # type: ignore[union-attr]
    return f"UPDATE {model._meta.db_table} SET {', '.join(columns)} WHERE {where}", values  # noqa: S608


def _update(model: type[models.Model], changes: dict[str, Any], where: str, params: list[Any]) -> int:
    """UPDATE model's table SET changes WHERE where; the number of rows changed."""
    sql, values = _update_sql(model, changes, where)
    with statement_cursor(connection) as cursor:
        cursor.execute(sql, values + params)
        return cursor.rowcount


def _lease_until() -> datetime:
    return timezone.now() + timedelta(seconds=settings.ROUTING_LEASE_SECONDS)


Head = tuple[OutboxMessage, Route]
# A change of the lease: the columns set, the WHERE clause and its parameters.
LeaseChange = tuple[dict[str, Any], str, list[Any]]


# Nobody holds the lease: never claimed, released, or expired with a worker that died.
_FREE = "(lease_until IS NULL OR lease_until < %s)"


def _claim_change(channel_id: int, token: str) -> LeaseChange:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    where = f"id = %s AND {_FREE}"
    return {"lease_until": _lease_until(), "lease_token": token}, where, [channel_id, now]


# A claim, won or lost, also clears the channel's wake-up request (channel_wake): the task that the
# request started has now looked. On PostgreSQL in the claim's own statement. A writer that found
# the request set before the claim committed its message before it: a won claim reads that message
# as the head, a lost one leaves it to the holder, which reads the queue again after every message
# and once more after releasing the lease.
def _claim_sql(channel_id: int, token: str) -> tuple[str, list[Any]]:
    """The claim as one UPDATE that takes the lease when it is free and clears the wake-up request
    either way, RETURNING the holder's token; its parameters."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    until = connection.ops.adapt_datetimefield_value(_lease_until())
    sql = (
        f"UPDATE {DeliveryChannel._meta.db_table} SET "  # noqa: S608 - the table from the model
        f"lease_token = CASE WHEN {_FREE} THEN %s ELSE lease_token END, "
        f"lease_until = CASE WHEN {_FREE} THEN %s ELSE lease_until END, wake_requested = %s "
        f"WHERE id = %s AND (wake_requested OR {_FREE}) RETURNING id, lease_token"
    )
    return sql, [now, token, now, until, False, channel_id, now]


def _renew_change(channel_id: int, token: str) -> LeaseChange:
    return {"lease_until": _lease_until()}, "id = %s AND lease_token = %s", [channel_id, token]


def _lease_with_head(change: LeaseChange, channel_id: int, *, claim: bool) -> tuple[bool, Head | None]:
    """Claim or extend the lease and read the channel's head: (whether the lease is ours, the head).

    On PostgreSQL one statement, the UPDATE in a CTE joined with the head's read: every message a
    worker sends starts with both, and each round trip to the database is latency on the channel,
    whose messages go out one after the other. The head is read in the statement's snapshot, as
    a separate read right after the UPDATE would; a message committed after it is found by the next
    look (before the lease is released and right after, see channel_deliver). SQLite, whose CTEs
    cannot write, runs the two statements.
    """
    changes, where, params = change
    if connection.vendor != "postgresql":
        if claim:  # cleared first: at worst a writer in between starts one task too many
            _update(DeliveryChannel, {"wake_requested": False}, "id = %s AND wake_requested", [channel_id])
        if not _update(DeliveryChannel, changes, where, params):
            return False, None
        return True, pending_head(channel_id=channel_id)
    if claim:
        update, values = _claim_sql(channel_id, changes["lease_token"])
        mine, mine_params = " WHERE lease.lease_token = %s", [changes["lease_token"]]
    else:
        update, values = _update_sql(DeliveryChannel, changes, where)
        update, values, mine, mine_params = f"{update} RETURNING id", values + params, "", []
    head, head_params = head_query(channel_id=channel_id)
    # Names from the models' _meta.
    sql = f"WITH lease AS ({update}) SELECT head.*, lease.id AS leased_channel_id "
    sql += f"FROM lease LEFT JOIN ({head}) head ON TRUE{mine}"
    with statement_cursor(connection) as cursor:
        cursor.execute(sql, values + head_params + mine_params)
        row = cursor.fetchone()
        if row is None:
            return False, None
        # The head's columns come first; its id is NULL when the channel has nothing pending.
        return True, (head_of(cursor, row) if row[0] is not None else None)


def _lease_claim(channel_id: int, token: str) -> tuple[bool, Head | None]:
    """Take a channel nobody holds (or whose holder's lease expired), with its head."""
    return _lease_with_head(_claim_change(channel_id, token), channel_id, claim=True)


def _lease_renew(channel_id: int, token: str) -> tuple[bool, Head | None]:
    """Extend our lease after each message, with the next head; False when the lease expired and
    another worker took the channel (this worker stalled longer than a lease), which must then stop
    at once."""
    return _lease_with_head(_renew_change(channel_id, token), channel_id, claim=False)


def _lease_release(channel_id: int, token: str) -> None:
    changes = {"lease_until": None, "lease_token": ""}
    _update(DeliveryChannel, changes, "id = %s AND lease_token = %s", [channel_id, token])


# --- Settling a message ---------------------------------------------------------------------------


def _settle_dead(message: OutboxMessage, error: str, status_code: int | None = None) -> None:
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(pk=message.pk, state=PENDING).update(
            state=OutboxMessage.State.DEAD,
            last_error=error[:2000],
            last_status_code=status_code,
            attempts=message.attempts,
            url=message.url[:700],
        )
        if updated:
            message.state = OutboxMessage.State.DEAD
            message.last_error = error
            message.last_status_code = status_code
            hook_error = hook_run(message, "on_dead")
            if hook_error:
                OutboxMessage.objects.filter(pk=message.pk).update(last_error=f"{error[:1400]}; {hook_error}")
    logger.warning("delivery %s dead-lettered: %s", message.message_id, error[:200])


def _settle_failed(message: OutboxMessage, error: str, status_code: int | None, retryable: bool) -> bool:
    """Record a failed attempt; True when the channel may go on (the message is no longer its head)."""
    if not retryable or message.attempts >= message.max_attempts:
        _settle_dead(message, error, status_code)
        return True
    # Conditional on PENDING: a message cancelled while it was in flight stays cancelled.
    changes = {
        "attempts": message.attempts,
        "last_error": error[:2000],
        "last_status_code": status_code,
        "url": message.url[:700],
        "next_attempt_at": timezone.now() + timedelta(seconds=backoff_seconds(message.attempts)),
    }
    return not _update(OutboxMessage, changes, "id = %s AND state = %s", [message.pk, PENDING])


def _settle_delivered(message: OutboxMessage, response: client.PartnerResponse) -> None:
    fields = {
        "state": OutboxMessage.State.DELIVERED,
        "attempts": message.attempts,
        "delivered_at": timezone.now(),
        "last_status_code": response.status_code,
        "last_error": response.note,
        "response_body": response.body,
        "url": message.url[:700],
    }
    # Any state but DELIVERED: the partner has the message, so that is the truth even when staff
    # cancelled it meanwhile; and the on_delivered hook runs once even if a worker that lost its
    # lease delivered it a second time.
    where, params = "id = %s AND state <> %s", [message.pk, OutboxMessage.State.DELIVERED]
    try:
        _mark_delivered(message, response, fields, where, params)
    except _AnswerNotStored as exc:
        # An answer the database refuses to store (PostgreSQL rejects "\u0000" in JSON) must not
        # turn a delivered message into one that is sent again and again. The first transaction
        # rolled back whole, before any hook ran: this one is the only one that counts.
        fields["response_body"] = None
        fields["last_error"] = f"answer not kept: {type(exc.__cause__).__name__}"
        _mark_delivered(message, response, fields, where, params)


class _AnswerNotStored(Exception):
    """The UPDATE that marks a message delivered failed on the partner's answer."""


class _HookFailed(Exception):
    """The on_delivered hook raised, in a transaction without a savepoint around it."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _mark_delivered(
    message: OutboxMessage,
    response: client.PartnerResponse,
    fields: dict[str, Any],
    where: str,
    params: list[Any],
) -> None:
    """Mark the message delivered and run its hook, in one transaction. No savepoint around the
    UPDATE: when it fails, the whole transaction rolls back and the caller starts a new one; a
    savepoint would cost two more round trips per message. A message without an on_delivered hook
    needs no transaction: its one UPDATE commits alone.

    On a worker (no caller's transaction) the hook needs no savepoint either: these statements hold
    up the channel's next message, and a command's answer runs a hook on every delivery. When the
    hook fails, the whole transaction rolls back (its writes with it, as its savepoint's would) and
    the message is marked delivered again, alone, with the hook's failure. Inside a caller's
    transaction, which must survive a failing hook, the hook keeps its savepoint (hook_run)."""
    hooked = hook_registered(message.event_type, "on_delivered")
    in_caller = connection.in_atomic_block
    try:
        with transaction.atomic() if hooked or in_caller else contextlib.nullcontext():
            try:
                updated = _update(OutboxMessage, fields, where, params)
            except DatabaseError as exc:
                if fields["response_body"] is None:
                    raise
                raise _AnswerNotStored from exc
            if not updated:
                return
            message.state = OutboxMessage.State.DELIVERED
            message.delivered_at = fields["delivered_at"]
            message.last_status_code = response.status_code
            message.response_body = fields["response_body"]
            if not hooked:
                return
            if in_caller:
                hook_error = hook_run(message, "on_delivered", response.body)
                if hook_error:
                    OutboxMessage.objects.filter(pk=message.pk).update(last_error=hook_error)
                return
            try:
                hook_call(message, "on_delivered", response.body)
            except Exception as exc:
                raise _HookFailed(hook_failure(message, "on_delivered", exc)) from exc
    except _HookFailed as failed:
        # Rolled back whole: the partner did answer, so the message is delivered all the same.
        if _update(OutboxMessage, {**fields, "last_error": failed.description}, where, params):
            message.state = OutboxMessage.State.DELIVERED


# --- One attempt ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    url: str
    secret: str
    key_id: str


@lru_cache(maxsize=1024)
def _secret(token: str) -> str:
    """A partner's secret from its stored ciphertext, decrypted once per process.

    The cache needs no invalidation: it is keyed by the ciphertext, so a rotated secret (a new
    ciphertext) is another entry; the keys that decrypt it are fixed for the life of the process
    (field_fernet() is built once).
    """
    return decrypt(field_fernet(), token)


def _target_of(message: OutboxMessage, route: Route) -> _Target:
    """Where and how to sign, from the route read at this attempt (endpoint changes and secret
    rotations apply to the next attempt)."""
    if route.url is None:
        raise client.DeliveryFailed("the partner has no active endpoint for this role")
    url = route.url.rstrip("/") + "/" + message.path
    if not settings.ROUTING_ALLOW_HTTP and not url.lower().startswith("https://"):
        raise client.DeliveryFailed("the endpoint is plain http, which ROUTING_ALLOW_HTTP forbids")
    if route.key_id is None or route.secret_encrypted is None:
        raise client.DeliveryFailed("the partner has no active API user whose secret could sign")
    secret = _secret(route.secret_encrypted)
    return _Target(url=url, secret=secret, key_id=route.key_id)


def _attempt(message: OutboxMessage, route: Route) -> bool:
    """Send one message. True when the channel may go on to its next message."""
    if route.status != Partner.Status.ACTIVE:
        _settle_dead(message, f"partner is {(route.status or 'deleted').lower()}: nothing is routed to it")
        return True
    message.attempts += 1
    try:
        target = _target_of(message, route)
        message.url = target.url
        response = client.signed_post(
            url=target.url,
            payload=message.payload,
            secret=target.secret,
            key_id=target.key_id,
            message_id=str(message.message_id),
            event_type=message.event_type,
        )
    except client.DeliveryFailed as exc:
        return _settle_failed(message, str(exc), exc.status_code, exc.retryable)
    except Exception as exc:
        # A fault on our side (a secret the configured keys cannot decrypt, a bug): counted as a
        # failed attempt, so the message backs off and is finally dead-lettered with the reason
        # instead of being retried at every sweep and holding up its channel forever.
        logger.exception("delivery %s failed on the hub's side", message.message_id)
        return _settle_failed(message, f"hub error: {type(exc).__name__}: {exc}", None, True)
    _settle_delivered(message, response)
    return True


# --- Starting a channel ---------------------------------------------------------------------------


def channel_wake(*, channel_id: int) -> None:
    """Start delivering a channel whose messages are committed, unless a worker holds it or a task
    started for it has not claimed it yet.

    Either of them delivers the message, which is committed: the holder looks at the queue after
    every message and again after releasing the lease (channel_deliver); the task's claim comes
    after this look, so it reads the message as the channel's head, or loses to a holder that does.
    Another task would only find the channel busy, and on a machine whose cores are all busy it
    would hold up the delivery that matters. Writers that commit at the same moment (a burst of
    commands to one CSO) thus start one task between them, not one each.
    """
    from .tasks import deliver_channel

    now = connection.ops.adapt_datetimefield_value(timezone.now())
    where = f"id = %s AND NOT wake_requested AND {_FREE}"
    if not _update(DeliveryChannel, {"wake_requested": True}, where, [channel_id, now]):
        return
    try:
        run_in_background(deliver_channel, channel_id)
    except Exception:
        # No task on its way (the broker is down): the request must not keep other writers from
        # trying. The sweep starts the channel later, as for any task that never ran.
        with contextlib.suppress(DatabaseError):
            _update(DeliveryChannel, {"wake_requested": False}, "id = %s", [channel_id])
        raise


# Channels to which the hooks of the delivery run in progress on this thread wrote (a CSO's answer
# to a command goes on to the CSP). The run delivers them when its own channel is done (a task and
# a broker round trip saved for each), or hands them to tasks at once when its own channel has more
# to send. Their leases are not taken meanwhile: a writer that finds such a channel free starts it
# at once (the run then finds it busy and leaves it), so its messages never wait for this run.
_wakeups = threading.local()
_WAKEUPS_DELIVERED_PER_RUN = 8


def wakeup_collected(channel_id: int) -> bool:
    """Note a channel to start when the delivery run in progress on this thread ends; False when no
    run is in progress (the caller starts the channel)."""
    collected: list[int] | None = getattr(_wakeups, "channels", None)
    if collected is None:
        return False
    if channel_id not in collected:
        collected.append(channel_id)
    return True


def _wake_collected(*, deliver: bool) -> None:
    """Start the channels noted so far: deliver them on this thread (the run is over, the worker is
    free) or hand them to tasks (the run goes on, or failed). A few at most are delivered here, so
    that hooks that keep writing to each other's channels cannot hold one task forever."""
    collected: list[int] = _wakeups.channels
    runs = 0
    while collected:
        channel_id = collected.pop(0)
        if deliver and runs < _WAKEUPS_DELIVERED_PER_RUN:
            runs += 1
            _channel_deliver(channel_id)
            continue
        try:
            channel_wake(channel_id=channel_id)
        except Exception:
            # As Django's robust on-commit callbacks: the messages are committed, the sweep sends them.
            logger.exception("starting the delivery of channel %s failed; the sweep starts it", channel_id)


# --- The channel ----------------------------------------------------------------------------------


def _deliver_leased(channel_id: int, token: str, found: Head | None) -> tuple[int, str]:
    """Deliver the channel's due messages while holding its lease, from the head read with the
    claim; (how many were settled, why it stopped: "empty", "waiting", "lost" or "more")."""
    started = time.monotonic()
    budget = settings.ROUTING_LEASE_SECONDS / 2
    settled = 0
    while True:
        if found is None:
            return settled, "empty"
        head, route = found
        if head.next_attempt_at > timezone.now():
            return settled, "waiting"
        if settled >= settings.ROUTING_BATCH_SIZE or time.monotonic() - started > budget:
            return settled, "more"
        if not _attempt(head, route):
            return settled, "waiting"
        settled += 1
        # The lease is extended after each message, with the next head in the same statement.
        renewed, found = _lease_renew(channel_id, token)
        if not renewed:
            logger.warning("lease on channel %s lost; another worker delivers it", channel_id)
            return settled, "lost"
        if found is not None:
            # More to send here: the channels the hooks wrote to must not wait for this one.
            _wake_collected(deliver=False)


def channel_deliver(*, channel_id: int) -> int:
    """Deliver a channel's due messages in order; returns how many were settled (sent or dead).

    A head that failed waits for its retry and the messages behind it wait too, so a partner always
    receives them in the order they were written. A run hands the channel back after a batch or half
    a lease, whichever comes first, so a partner that answers slowly cannot keep a worker from other
    channels; it re-enqueues itself to go on.

    A writer does not start a delivery for a channel whose lease is held, or whose task has not
    claimed it yet (channel_wake): the holder looks at the queue once more after releasing the
    lease, so a message written while the holder found the queue empty is delivered by the holder,
    without a task of its own.

    The channels the hooks write to (a CSO's answer to a command goes to the CSP) are delivered by
    this worker once its channel is done (the broker's round trip and a task's overhead saved), or
    handed to tasks when its channel has more to send or the run fails. The count returned is this
    channel's alone.
    """
    if getattr(_wakeups, "channels", None) is not None:
        return _channel_deliver(channel_id)  # started by the run in progress on this thread
    _wakeups.channels = []
    try:
        settled = _channel_deliver(channel_id)
        _wake_collected(deliver=True)
    except BaseException:
        _wake_collected(deliver=False)  # nothing the hooks wrote waits for the sweep
        raise
    finally:
        _wakeups.channels = None
    return settled


def _channel_deliver(channel_id: int) -> int:
    settled = 0
    while True:
        token = uuid.uuid4().hex
        claimed, found = _lease_claim(channel_id, token)
        if not claimed:
            return settled
        try:
            count, stopped = _deliver_leased(channel_id, token, found)
        finally:
            _lease_release(channel_id, token)
        settled += count
        if stopped == "more":
            from .tasks import deliver_channel

            deliver_channel.delay(channel_id)
            return settled
        if stopped != "empty":
            # A head waiting for its retry holds back whatever came after it (the sweep starts it
            # when it is due); a lost lease leaves the channel to the worker that took it.
            return settled
        due = head_due_at(channel_id=channel_id)
        if due is None or due > timezone.now():
            return settled
        # A message came in as the lease was released: this channel goes on (this run delivers
        # what was written for it), and the channels its hooks wrote to must not wait for it.
        if channel_id in _wakeups.channels:
            _wakeups.channels.remove(channel_id)
        _wake_collected(deliver=False)
