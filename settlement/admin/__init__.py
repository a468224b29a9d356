"""The settlement app in the operator console. SDRs and the dispute queue: sdrs.py; fee plans,
finance users, runs and statements: statements.py."""

from __future__ import annotations

from . import sdrs, statements  # noqa: F401  (registers the model admins)
