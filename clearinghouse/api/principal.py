"""The caller of an I3 request: a partner's API user, loaded once and cached.

The record comes from the partner registry through settings.I3_PRINCIPAL_LOADER (the registry sits
above the plumbing). It is cached so that an authenticated request costs no database query for the
user; every change of a partner's status, roles or secrets invalidates it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from django.conf import settings
from django.core.cache import cache as django_cache
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

_CACHE_PREFIX = "i3:principal:v1:"


@dataclass(frozen=True)
class Principal:
    """What the API needs to know of its caller, without touching the database."""

    user_id: int
    username: str
    user_active: bool
    partner_id: int
    partner_status: str
    country_code: str
    party_id: str
    is_cso: bool
    is_csp: bool
    secret_encrypted: str

    # DRF and Django look at these on request.user.
    is_authenticated = True
    is_anonymous = False
    is_staff = False

    @property
    def pk(self) -> int:
        return self.user_id

    @property
    def id(self) -> int:
        return self.user_id

    @property
    def usable(self) -> bool:
        return self.user_active and self.partner_status == "ACTIVE"

    @property
    def operator_id(self) -> str:
        return f"{self.country_code}*{self.party_id}"

    @property
    def provider_id(self) -> str:
        return f"{self.country_code}-{self.party_id}"

    def secret(self) -> str:
        return _decrypt(self.secret_encrypted)


@cache
def _loader():  # type: ignore[no-untyped-def]
    return import_string(settings.I3_PRINCIPAL_LOADER)


@lru_cache(maxsize=4096)
def _decrypt(token: str) -> str:
    from clearinghouse.lib.crypto import decrypt

    from .secrets import field_fernet

    return decrypt(field_fernet(), token)


def principal_cache_key(user_id: int) -> str:
    return f"{_CACHE_PREFIX}{user_id}"


# The last principal this process saw per user. It is only ever used together with a check that
# the shared cache still holds the same record (clearinghouse.api.roundtrip), so an invalidation
# anywhere takes effect on the next request everywhere.
_local: dict[int, Principal] = {}
_LOCAL_MAX = 10_000


def principal_local(*, user_id: int) -> Principal | None:
    return _local.get(user_id)


def principal_remember(principal: Principal) -> None:
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[principal.user_id] = principal


def principal_forget(*, user_id: int) -> None:
    _local.pop(user_id, None)


def principal_get(*, user_id: int) -> Principal | None:
    """The principal of a user id, from the cache or (on a miss or a cache outage) the database."""
    key = principal_cache_key(user_id)
    try:
        cached = django_cache.get(key)
    except Exception:  # the cache (Redis) is down: the database still answers
        logger.warning("principal cache unavailable; loading from the database")
        cached = None
        return _loader()(user_id=user_id)
    if cached is not None:
        return Principal(**cached) if cached else None
    principal = _loader()(user_id=user_id)
    try:
        django_cache.set(
            key, principal.__dict__ if principal else {}, timeout=settings.I3_PRINCIPAL_CACHE_SECONDS
        )
    except Exception:
        logger.warning("principal cache unavailable; not caching")
    return principal


def principal_invalidate(*, user_ids: Iterable[int]) -> None:
    """Forget cached principals: call on every change of status, roles, password or secret."""
    user_ids = list(user_ids)
    for uid in user_ids:
        principal_forget(user_id=uid)
    keys = [principal_cache_key(uid) for uid in user_ids]
    if not keys:
        return
    try:
        django_cache.delete_many(keys)
    except Exception:
        # Better to refuse than to serve a stale (e.g. suspended) principal for a minute.
        logger.error("principal cache unavailable while invalidating %d keys", len(keys))
        raise
