"""Per-request context (request id, acting user and partner) that logs and the audit log read.

Context variables rather than thread locals, so it is right under threads, gthread workers and
Celery tasks alike.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    partner_id: int | None = None
    label: str = ""


request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# Actor is a frozen dataclass: sharing the default instance is safe.
actor_var: contextvars.ContextVar[Actor] = contextvars.ContextVar("actor", default=Actor(label="system"))  # noqa: B039


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    return request_id_var.get()


def current_actor() -> Actor:
    return actor_var.get()


def set_actor(actor: Actor) -> contextvars.Token[Actor]:
    return actor_var.set(actor)
