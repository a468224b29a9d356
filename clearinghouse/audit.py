"""The audit log: one call records a write with the current request id and actor."""

from __future__ import annotations

import logging
from typing import Any

from .context import current_actor, current_request_id
from .models import AuditEntry

logger = logging.getLogger(__name__)


def audit_record(
    *,
    action: str,
    channel: str = AuditEntry.Channel.SYSTEM,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    partner_id: int | None = None,
    user_id: int | None = None,
    status_code: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry; the actor defaults to the one of the current request."""
    actor = current_actor()
    if obj is not None:
        object_type = object_type or obj._meta.label
        object_id = object_id or str(obj.pk)
    return AuditEntry.objects.create(
        channel=channel,
        actor_user_id=user_id if user_id is not None else actor.user_id,
        actor_label=actor.label[:150],
        partner_id=partner_id if partner_id is not None else actor.partner_id,
        action=action[:100],
        object_type=object_type[:100],
        object_id=str(object_id)[:100],
        request_id=current_request_id()[:128],
        status_code=status_code,
        details=details or {},
    )
