"""Celery tasks of the outbound routing: thin, take ids, call a service."""

from __future__ import annotations

from celery import shared_task

from clearinghouse.api.nonces import nonces_purge_expired

from . import services


@shared_task(name="routing.deliver_channel", ignore_result=True)
def deliver_channel(channel_id: int) -> int:
    return services.channel_deliver(channel_id=channel_id)


@shared_task(name="routing.sweep", ignore_result=True)
def routing_sweep() -> int:
    """Pick up due retries and channels whose worker died (their lease expired)."""
    ids = services.due_channel_ids()
    for channel_id in ids:
        deliver_channel.delay(channel_id)
    return len(ids)


@shared_task(name="clearinghouse.purge_nonces", ignore_result=True)
def purge_nonces() -> int:
    return nonces_purge_expired()
