"""The settlement app in the operator console. SDRs and the dispute queue: sdrs.py."""

from __future__ import annotations

from . import sdrs  # noqa: F401  (registers the model admins)
