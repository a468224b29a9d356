"""Reads of the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from clearinghouse.db import instance_from_row, statement_cursor
from partners.models import Partner, PartnerUser, RoamingEndpoint

from .models import DeliveryChannel, OutboxMessage


@dataclass(frozen=True)
class Route:
    """Where and as whom a partner is sent to in one role, as the database says now.

    `status` is None for a deleted partner; `url` None without an active endpoint for the role;
    `key_id` and `secret_encrypted` None without an active API user whose secret could sign.
    """

    status: str | None
    url: str | None
    key_id: str | None
    secret_encrypted: str | None


# The delivery loop's reads run for every message a worker sends. Written out in SQL (portable:
# PostgreSQL and SQLite) they cost one round trip each and no query building, which is most of the
# CPU an ORM query takes.


# The endpoint is partners.selectors.endpoint_for, the signer partners.selectors.signing_user_of.
_SIGNER = (
    "FROM {partner_user} pu JOIN {user} u ON u.id = pu.user_id "
    "WHERE pu.partner_id = m.partner_id AND u.is_active = %s ORDER BY pu.id LIMIT 1"
)
_HEAD = (
    "SELECT m.*, p.status AS route_status, "  # noqa: S608 - names from the models' _meta
    "(SELECT e.url FROM {endpoint} e WHERE e.partner_id = m.partner_id AND e.role = m.role "
    "AND e.protocol = 'i3' AND e.active = %s ORDER BY e.id LIMIT 1) AS route_url, "
    "(SELECT u.{username} " + _SIGNER + ") AS route_key_id, "
    "(SELECT pu.hmac_secret_encrypted " + _SIGNER + ") AS route_secret "
    "FROM {message} m LEFT JOIN {partner} p ON p.id = m.partner_id "
    # The state is written in, not passed: a prepared statement's generic plan can then use the
    # partial index outbox_pending_head, which a parameter could not prove applies.
    "WHERE m.channel_id = %s AND m.state = 'PENDING' ORDER BY m.id LIMIT 1"
)


@lru_cache(maxsize=1)
def _head_sql() -> str:
    user = get_user_model()
    return _HEAD.format(
        message=OutboxMessage._meta.db_table,
        partner=Partner._meta.db_table,
        endpoint=RoamingEndpoint._meta.db_table,
        partner_user=PartnerUser._meta.db_table,
        user=user._meta.db_table,
        username=user._meta.get_field(user.USERNAME_FIELD).column,
    )


def head_query(*, channel_id: int) -> tuple[str, list[Any]]:
    """The SQL and parameters of pending_head's read, for a statement that embeds it (the lease's
    claim on PostgreSQL, delivery.py)."""
    return _head_sql(), [True, True, True, channel_id]


def head_of(cursor: Any, row: Sequence[Any]) -> tuple[OutboxMessage, Route]:
    """A message read by head_query's SQL (a row of `cursor`), with its route."""
    message = instance_from_row(OutboxMessage, cursor, row, using=connection.alias)
    assert isinstance(message, OutboxMessage)
    route = Route(
        status=message.route_status,
        url=message.route_url,
        key_id=message.route_key_id,
        secret_encrypted=message.route_secret,
    )
    return message, route


def pending_head(*, channel_id: int) -> tuple[OutboxMessage, Route] | None:
    """The oldest pending message of a channel, with its route read in the same query (so that a
    suspension, an endpoint change or a secret rotation applies to the next message sent)."""
    sql, params = head_query(channel_id=channel_id)
    with statement_cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return None if row is None else head_of(cursor, row)


@dataclass(frozen=True)
class EnqueueTarget:
    """A partner in a role, as a message to write for it needs to know it: whether it can receive
    (active, with an endpoint for the role, as partners.selectors.endpoint_for finds it) and its
    channel's id (None before its first message)."""

    reachable: bool
    channel_id: int | None


# The columns of an EnqueueTarget but the partner's status, for the partner whose id is the SQL
# expression {partner_id}; the parameters are enqueue_target_params(role).
# Aliases of their own, so that the statement around them may use any.
_TARGET_COLUMNS = (
    "EXISTS (SELECT 1 FROM {endpoint} te WHERE te.partner_id = {partner_id} AND te.role = %s "
    "AND te.protocol = 'i3' AND te.active = %s) AS {prefix}outbox_endpoint, "
    "(SELECT tc.id FROM {channel} tc WHERE tc.partner_id = {partner_id} AND tc.role = %s) "
    "AS {prefix}outbox_channel"
)


def enqueue_target_columns(*, partner_id: str, prefix: str = "") -> str:
    """Two columns, `{prefix}outbox_endpoint` and `{prefix}outbox_channel`, for a statement of
    another app that reads the partner anyway (a command with its parties): outbox_enqueue then
    needs no read of its own. `partner_id` is the SQL expression of the partner's id;
    enqueue_target_params gives the parameters, enqueue_target_of the target."""
    return _TARGET_COLUMNS.format(
        endpoint=RoamingEndpoint._meta.db_table,
        channel=DeliveryChannel._meta.db_table,
        partner_id=partner_id,
        prefix=prefix,
    )


def enqueue_target_params(role: str) -> list[Any]:
    return [role, True, role]


def enqueue_target_of(*, status: str | None, has_endpoint: Any, channel_id: int | None) -> EnqueueTarget:
    """The target from the partner's status and the two columns of enqueue_target_columns."""
    reachable = status == Partner.Status.ACTIVE and bool(has_endpoint)
    return EnqueueTarget(reachable=reachable, channel_id=channel_id)


@lru_cache(maxsize=1)
def _enqueue_sql() -> str:
    columns = enqueue_target_columns(partner_id="p.id")
    return f"SELECT p.status, {columns} FROM {Partner._meta.db_table} p WHERE p.id = %s"  # noqa: S608


def enqueue_target(*, partner_id: int, role: str) -> EnqueueTarget:
    """In one query, for a message to write: whether the partner can receive it and its channel."""
    with statement_cursor(connection) as cursor:
        cursor.execute(_enqueue_sql(), [*enqueue_target_params(role), partner_id])
        row = cursor.fetchone()
    if row is None:
        return EnqueueTarget(reachable=False, channel_id=None)
    status, has_endpoint, channel_id = row
    return enqueue_target_of(status=status, has_endpoint=has_endpoint, channel_id=channel_id)


def head_due_at(*, channel_id: int) -> datetime | None:
    """When the head of a channel's queue is due; None when nothing is pending."""
    # Written out (one probe of outbox_pending_head): every delivery run ends with it.
    table = OutboxMessage._meta.db_table
    with statement_cursor(connection) as cursor:
        cursor.execute(
            f"SELECT next_attempt_at FROM {table} WHERE channel_id = %s AND state = 'PENDING' "  # noqa: S608
            "ORDER BY id LIMIT 1",
            [channel_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    # SQLite answers text: the backend's converters make it the aware datetime the ORM returns.
    value, column = row[0], OutboxMessage._meta.get_field("next_attempt_at").get_col(table)
    for converter in connection.ops.get_db_converters(column):
        value = converter(value, column, connection)
    return value


def due_channel_ids(*, limit: int = 1000) -> list[int]:
    """Channels whose head message is due and that no worker holds, the longest-waiting first.

    Only the head counts: the messages behind a head that waits for its retry wait too, so their
    channel is not due. Channels are few (two per partner at most) and each head is one probe of the
    outbox_pending_head index, so this reads no more than the channels, however long the queues.
    """
    now = timezone.now()
    head_due = (
        OutboxMessage.objects.filter(channel=OuterRef("pk"), state=OutboxMessage.State.PENDING)
        .order_by("id")
        .values("next_attempt_at")[:1]
    )
    return list(
        DeliveryChannel.objects.annotate(head_due=Subquery(head_due))
        .filter(head_due__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("head_due", "id")
        .values_list("pk", flat=True)[:limit]
    )
