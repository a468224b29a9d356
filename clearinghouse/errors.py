"""Domain errors raised by services; the API maps each kind to its HTTP status, the admin and the
management commands show the message."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused operation: a machine code, a human message, optional details."""

    status_code = 422

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


class InvalidInput(DomainError):
    status_code = 400


class RuleViolation(DomainError):
    status_code = 422


class ConflictError(DomainError):
    status_code = 409


class NotFoundError(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Unauthorized(DomainError):
    status_code = 401


class Locked(DomainError):
    """Too many attempts: retry after `retry_after` seconds."""

    status_code = 429

    def __init__(self, code: str, message: str, retry_after: int) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class InvalidTransition(ConflictError):
    pass
