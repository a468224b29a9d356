"""What apps above the routing do when their messages are answered or die.

The routing sits below the apps that write messages, so it cannot import them; they register their
reactions here from their AppConfig.ready().
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

if TYPE_CHECKING:
    from .models import OutboxMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryHooks:
    on_delivered: Callable[[OutboxMessage, Any], None] | None = None
    on_dead: Callable[[OutboxMessage], None] | None = None


_HOOKS: dict[str, DeliveryHooks] = {}


def delivery_hooks_register(
    event_type: str,
    *,
    on_delivered: Callable[[OutboxMessage, Any], None] | None = None,
    on_dead: Callable[[OutboxMessage], None] | None = None,
) -> None:
    """Register what happens when a message of `event_type` is delivered (with the partner's parsed
    JSON answer, None when it sent none) or dead-lettered. A later registration replaces an earlier."""
    _HOOKS[event_type] = DeliveryHooks(on_delivered=on_delivered, on_dead=on_dead)


def hook_registered(event_type: str, name: str) -> bool:
    """Whether messages of `event_type` have a hook `name` ("on_delivered" or "on_dead")."""
    hooks = _HOOKS.get(event_type)
    return hooks is not None and getattr(hooks, name) is not None


def hook_run(message: OutboxMessage, name: str, *args: Any) -> str:
    """Run one hook in a savepoint; returns "" or a description of its failure.

    A hook's bug must neither undo the message's new state (the partner did answer) nor stop the
    channel, so its exception is logged and reported, never raised.
    """
    try:
        with transaction.atomic():
            hook_call(message, name, *args)
    except Exception as exc:
        return hook_failure(message, name, exc)
    return ""


def hook_call(message: OutboxMessage, name: str, *args: Any) -> None:
    """Run one hook in the caller's transaction, without a savepoint: its exception propagates, and
    the caller must then roll back the whole transaction (see delivery._mark_delivered)."""
    hooks = _HOOKS.get(message.event_type)
    hook = getattr(hooks, name, None) if hooks else None
    if hook is not None:
        hook(message, *args)


def hook_failure(message: OutboxMessage, name: str, exc: Exception) -> str:
    """Log a hook's failure (call it in the `except` block); its description for the message."""
    logger.exception("delivery hook %s failed for message %s", name, message.message_id)
    return f"{name} hook failed: {type(exc).__name__}: {exc}"[:500]
