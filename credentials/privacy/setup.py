"""Registration of this app's own privacy functions, and of the plumbing's below it."""

from __future__ import annotations


def register() -> None:
    """Called from CredentialsConfig.ready()."""
    from . import exports, retention, steps

    steps.register()
    retention.register()
    exports.register()
