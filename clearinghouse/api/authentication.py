"""I3 authentication: a bearer access token (JWT) plus the HMAC message signature on every request.

The token names the user; the principal (partner, roles, HMAC secret) comes from the cache, so a
signed, authenticated request costs no database query. Order matters: the signature is verified
before the nonce is stored, so unsigned junk cannot fill the nonce store.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from clearinghouse.context import Actor, set_actor
from clearinghouse.lib import signing

from .nonces import nonce_claim
from .principal import Principal, principal_get


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


def signature_headers(request: Any) -> tuple[str, str, str]:
    """Timestamp, nonce and signature headers, checked for presence, form and freshness."""
    headers = getattr(request, "_request", request).headers
    timestamp = headers.get(signing.HEADER_TIMESTAMP, "")
    nonce = headers.get(signing.HEADER_NONCE, "")
    signature = headers.get(signing.HEADER_SIGNATURE, "")
    try:
        if not signature:
            raise signing.SignatureError(
                "missing_signature", f"{signing.HEADER_SIGNATURE} header is required"
            )
        signing.check_nonce_format(nonce)
        signing.check_freshness(timestamp, max_skew=settings.I3_SIGNATURE_MAX_SKEW_SECONDS)
    except signing.SignatureError as exc:
        raise SignatureFailed(detail=exc.message, code=exc.code) from None
    return timestamp, nonce, signature


def verify_signed_request(request: Any, *, secret: str, partner_id: int) -> None:
    """Check the HMAC signature of a request with the partner's secret, then claim its nonce."""
    timestamp, nonce, signature = signature_headers(request)
    django_request = getattr(request, "_request", request)
    body = django_request.body
    method = django_request.method or "GET"
    if not any(
        signing.verify(secret, method, target, timestamp, nonce, body, signature)
        for target in request_targets(request)
    ):
        raise SignatureFailed(detail="The request signature does not match.", code="bad_signature")
    if not nonce_claim(partner_id=partner_id, nonce=nonce, timestamp=signing.parse_timestamp(timestamp)):
        raise SignatureFailed(detail="This nonce was used before.", code="nonce_reused")


class I3Authentication(BaseAuthentication):
    """Bearer JWT + HMAC signature; answers 401 for any failure, 403 for a suspended partner."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Principal, AccessToken]:
        signature_headers(request)  # fail fast on missing or stale headers
        header = request.META.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.NotAuthenticated("A bearer access token is required.", code="not_authenticated")
        try:
            token = AccessToken(parts[1])
        except TokenError as exc:
            code = "token_expired" if "expired" in str(exc).lower() else "token_invalid"
            raise exceptions.AuthenticationFailed(str(exc), code=code) from None
        try:
            user_id = int(token[settings.SIMPLE_JWT["USER_ID_CLAIM"]])
        except (KeyError, TypeError, ValueError):
            raise exceptions.AuthenticationFailed("The token names no user.", code="token_invalid") from None
        principal = principal_get(user_id=user_id)
        if principal is None:
            raise exceptions.AuthenticationFailed("Unknown API user.", code="unknown_user")
        verify_signed_request(request, secret=principal.secret(), partner_id=principal.partner_id)
        if not principal.usable:
            raise exceptions.PermissionDenied(
                f"Partner is {principal.partner_status.lower()}; API access is refused.",
                code="partner_inactive",
            )
        set_actor(Actor(user_id=principal.user_id, partner_id=principal.partner_id, label=principal.username))
        return principal, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="i3"'
