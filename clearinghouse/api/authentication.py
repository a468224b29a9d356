"""I3 authentication: a bearer access token (JWT) plus the HMAC message signature on every request.

The token names the user; the principal (partner, roles, HMAC secret) comes from the cache, so a
signed, authenticated request costs no database query and one cache round trip (nonce, principal
check and rate-limit counter together). Order matters: the signature is verified before the nonce
is stored, so unsigned junk cannot fill the nonce store.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from clearinghouse.context import Actor, set_actor
from clearinghouse.lib import signing

from . import nonces, throttling
from .headers import request_header
from .nonces import nonce_claim
from .principal import (
    Principal,
    principal_cache_key,
    principal_forget,
    principal_get,
    principal_local,
    principal_remember,
)
from .roundtrip import round_trip, stored_record

logger = logging.getLogger(__name__)


class SignatureFailed(exceptions.AuthenticationFailed):
    pass


def request_targets(request: Any) -> list[str]:
    """The request target as sent (raw URI from the server when it gives one) and as Django sees it."""
    django_request = getattr(request, "_request", request)
    targets = []
    raw = django_request.META.get("RAW_URI") or django_request.META.get("REQUEST_URI")
    if raw:
        targets.append(signing.target_of(raw) if "://" in raw else raw)
    full = django_request.get_full_path()
    if full not in targets:
        targets.append(full)
    return targets


_CHECKED = "_i3_signature_headers"


def signature_headers(request: Any) -> tuple[str, str, str]:
    """Timestamp, nonce and signature headers, checked for presence, form and freshness (once per
    request: the answer is kept on it)."""
    django_request = getattr(request, "_request", request)
    checked = getattr(django_request, _CHECKED, None)
    if checked is not None:
        return checked
    timestamp = request_header(django_request, signing.HEADER_TIMESTAMP, "")
    nonce = request_header(django_request, signing.HEADER_NONCE, "")
    signature = request_header(django_request, signing.HEADER_SIGNATURE, "")
    try:
        if not signature:
            raise signing.SignatureError(
                "missing_signature", f"{signing.HEADER_SIGNATURE} header is required"
            )
        signing.check_nonce_format(nonce)
        signing.check_freshness(timestamp, max_skew=settings.I3_SIGNATURE_MAX_SKEW_SECONDS)
    except signing.SignatureError as exc:
        raise SignatureFailed(detail=exc.message, code=exc.code) from None
    checked = (timestamp, nonce, signature)
    setattr(django_request, _CHECKED, checked)
    return checked


def verify_signed_request(request: Any, *, secret: str, partner_id: int) -> None:
    """Check the HMAC signature of a request with the partner's secret, then claim its nonce."""
    if not _signature_matches(request, secret):
        raise _bad_signature()
    timestamp, nonce, _signature = signature_headers(request)
    if not nonce_claim(partner_id=partner_id, nonce=nonce, timestamp=signing.parse_timestamp(timestamp)):
        raise _nonce_reused()


def _signature_matches(request: Any, secret: str) -> bool:
    timestamp, nonce, signature = signature_headers(request)
    django_request = getattr(request, "_request", request)
    body = django_request.body
    method = django_request.method or "GET"
    return any(
        signing.verify(secret, method, target, timestamp, nonce, body, signature)
        for target in request_targets(request)
    )


# Access tokens this process has verified: token -> (user id, expiry). A token is immutable and
# signed by the hub, so verifying it again on each request would only repeat the same answer;
# the expiry is still checked every time.
_tokens: dict[str, tuple[int, float]] = {}
_TOKENS_MAX = 20_000


def access_token_user(raw: str) -> int:
    """The user id an access token names, verified (signature, type, expiry)."""
    known = _tokens.get(raw)
    if known is not None and known[1] > time.time():
        return known[0]
    try:
        token = AccessToken(raw)
    except TokenError as exc:
        code = "token_expired" if "expired" in str(exc).lower() else "token_invalid"
        raise exceptions.AuthenticationFailed(str(exc), code=code) from None
    try:
        user_id = int(token[settings.SIMPLE_JWT["USER_ID_CLAIM"]])
        expires = float(token["exp"])
    except (KeyError, TypeError, ValueError):
        raise exceptions.AuthenticationFailed("The token names no user.", code="token_invalid") from None
    if len(_tokens) >= _TOKENS_MAX:
        _tokens.clear()
    _tokens[raw] = (user_id, expires)
    return user_id


def _unknown_user() -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed("Unknown API user.", code="unknown_user")


def _bad_signature() -> SignatureFailed:
    return SignatureFailed(detail="The request signature does not match.", code="bad_signature")


def _nonce_reused() -> SignatureFailed:
    return SignatureFailed(detail="This nonce was used before.", code="nonce_reused")


def _fresh_principal(user_id: int) -> Principal:
    principal = principal_get(user_id=user_id)
    if principal is None:
        principal_forget(user_id=user_id)
        raise _unknown_user()
    principal_remember(principal)
    return principal


def _signed_principal(request: Request, user_id: int) -> Principal:
    """The caller's principal, its signature verified: the one this process knows when the
    signature matches it, else the current one (a rotated secret)."""
    known = principal_local(user_id=user_id)
    if known is not None and _signature_matches(request, known.secret()):
        return known
    principal = _fresh_principal(user_id)
    if principal is not known and _signature_matches(request, principal.secret()):
        return principal
    raise _bad_signature()


# The cache's serialized record that last confirmed each principal this process holds (a principal
# read again is another object and is compared afresh). The same bytes again mean the same record,
# so the usual request compares bytes instead of deserializing them.
_confirmed: dict[int, tuple[Principal, bytes]] = {}
_CONFIRMED_MAX = 10_000


def _claim_and_confirm(request: Request, principal: Principal) -> Principal:
    """One cache round trip: claim the nonce, confirm the principal is still current, count the
    request for the view's rate limit. The database answers what the cache cannot."""
    timestamp, nonce, _signature = signature_headers(request)
    view = (getattr(request, "parser_context", None) or {}).get("view")
    window = (
        throttling.window_of(scope=throttling.scope_of(view), partner_id=principal.partner_id)
        if view is not None and throttling.limits(view)
        else None
    )
    try:
        answer = round_trip(
            nonce_key=nonces.nonce_key(principal.partner_id, nonce),
            nonce_ttl=settings.I3_NONCE_TTL_SECONDS,
            principal_key=principal_cache_key(principal.user_id),
            window=window,
        )
    except Exception:
        # The cache is down: the principal from the database, the nonce in the database, and
        # the limiter lets the request through (it will find the cache down too).
        logger.warning("cache unavailable; authenticating from the database")
        current = _fresh_principal(principal.user_id)
        if current.secret_encrypted != principal.secret_encrypted and not _signature_matches(
            request, current.secret()
        ):
            raise _bad_signature() from None
        claimed = nonces.nonce_claim_without_cache(
            partner_id=current.partner_id, nonce=nonce, timestamp=signing.parse_timestamp(timestamp)
        )
        if not claimed:
            raise _nonce_reused() from None
        return current
    if not nonces.nonce_claimed_in_cache(
        partner_id=principal.partner_id, nonce=nonce, added=answer.nonce_added
    ):
        raise _nonce_reused()
    if window is not None and answer.count is not None:
        setattr(request, throttling.COUNTED, (window, answer.count))
    confirmed = _confirmed.get(principal.user_id)
    if confirmed is not None and confirmed[0] is principal and confirmed[1] == answer.stored:
        return principal
    if stored_record(answer) == principal.__dict__:
        if answer.stored is not None:
            if len(_confirmed) >= _CONFIRMED_MAX:
                _confirmed.clear()
            _confirmed[principal.user_id] = (principal, answer.stored)
        return principal
    # Invalidated (suspended, roles or secret changed) or expired from the cache: read it again.
    current = _fresh_principal(principal.user_id)
    if current.secret_encrypted != principal.secret_encrypted and not _signature_matches(
        request, current.secret()
    ):
        raise _bad_signature()
    return current


class I3Authentication(BaseAuthentication):
    """Bearer JWT + HMAC signature; answers 401 for any failure, 403 for a suspended partner.

    The signature is verified before the nonce is stored, so unsigned junk cannot fill the nonce
    store; then one cache round trip claims the nonce, confirms the principal and counts the request.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Principal, None]:
        signature_headers(request)  # fail fast on missing or stale headers
        header = request.META.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.NotAuthenticated("A bearer access token is required.", code="not_authenticated")
        user_id = access_token_user(parts[1])
        principal = _claim_and_confirm(request, _signed_principal(request, user_id))
        if not principal.usable:
            raise exceptions.PermissionDenied(
                f"Partner is {principal.partner_status.lower()}; API access is refused.",
                code="partner_inactive",
            )
        set_actor(Actor(user_id=principal.user_id, partner_id=principal.partner_id, label=principal.username))
        return principal, None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="i3"'
