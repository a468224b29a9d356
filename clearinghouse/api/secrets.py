"""The configured keys for secrets at rest."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import MultiFernet
from django.conf import settings

from clearinghouse.lib.crypto import fernet_from


@cache
def field_fernet() -> MultiFernet:
    return fernet_from(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)
