"""Every way an I3 request can fail to authenticate, and that the good ones pass."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken

from clearinghouse.api import authentication
from partners import services
from partners.models import PartnerUser
from tests.support import error_code

pytestmark = pytest.mark.django_db


def test_login_returns_tokens_valid_twenty_minutes(cso):
    r = cso.client.login()
    body = r.json()
    assert body["expires_in"] == 1200
    assert body["token_type"] == "Bearer"
    token = AccessToken(body["access"])
    assert token["exp"] - token["iat"] == 1200
    assert token["pid"] == cso.partner.pk


def test_signed_authenticated_request_passes(cso):
    assert cso.client.get("/partners/me").status_code == 200


def test_wrong_password_is_401(cso):
    r = cso.client.post("/auth/token", {"username": cso.username, "password": "wrong-password-1"}, auth=False)
    assert r.status_code == 401
    assert error_code(r) == "invalid_credentials"


def test_unknown_user_is_401_like_a_wrong_password(cso):
    r = cso.client.post("/auth/token", {"username": "nobody", "password": "whatever-long"}, auth=False)
    assert r.status_code == 401
    assert error_code(r) == "invalid_credentials"


def test_login_body_validation_is_400(cso):
    r = cso.client.post("/auth/token", {"username": cso.username}, auth=False)
    assert r.status_code == 400
    assert error_code(r) == "validation_error"
    r = cso.client.request("POST", "/auth/token", raw=b"{not json", auth=False)
    assert r.status_code == 400


def test_login_must_be_signed_with_the_users_secret(cso, csp):
    body = {"username": cso.username, "password": cso.password}
    r = cso.client.post("/auth/token", body, auth=False, secret=csp.secret)
    assert r.status_code == 401
    assert error_code(r) == "bad_signature"
    r = cso.client.post("/auth/token", body, auth=False, sign=False)
    assert r.status_code == 401
    assert error_code(r) == "missing_signature"


@override_settings(I3_LOGIN_MAX_FAILURES=3, I3_LOGIN_LOCK_SECONDS=600)
def test_repeated_failures_lock_the_account(cso):
    for _ in range(2):
        r = cso.client.post(
            "/auth/token", {"username": cso.username, "password": "bad-password-x"}, auth=False
        )
        assert r.status_code == 401
    r = cso.client.post("/auth/token", {"username": cso.username, "password": "bad-password-x"}, auth=False)
    assert r.status_code == 429
    assert error_code(r) == "account_locked"
    assert int(r["Retry-After"]) > 0
    # Even the right password is refused while locked.
    r = cso.client.post("/auth/token", {"username": cso.username, "password": cso.password}, auth=False)
    assert r.status_code == 429
    pu = PartnerUser.objects.get(user__username=cso.username)
    assert pu.locked_until is not None


def test_lock_expires(cso):
    pu = PartnerUser.objects.get(user__username=cso.username)
    from django.utils import timezone

    pu.locked_until = timezone.now() - timedelta(seconds=1)
    pu.save()
    assert cso.client.login().status_code == 200


def test_missing_bearer_token_is_401(cso):
    r = cso.client.get("/partners/me", auth=False)
    assert r.status_code == 401
    assert error_code(r) == "not_authenticated"
    assert r["WWW-Authenticate"].startswith("Bearer")


def test_garbage_token_is_401(cso):
    r = cso.client.get("/partners/me", auth=False, headers={"Authorization": "Bearer abc.def.ghi"})
    assert r.status_code == 401
    assert error_code(r) == "token_invalid"


def test_expired_token_is_401(cso):
    cso.client.login()
    token = AccessToken(cso.client.access)
    token.set_exp(lifetime=timedelta(seconds=-1))
    cso.client.access = str(token)
    r = cso.client.get("/partners/me")
    assert r.status_code == 401
    assert error_code(r) == "token_expired"


def test_refresh_token_is_not_an_access_token(cso):
    cso.client.login()
    cso.client.access = cso.client.refresh
    r = cso.client.get("/partners/me")
    assert r.status_code == 401


def test_bad_signature_is_401(cso, csp):
    r = cso.client.get("/partners/me", secret=csp.secret)
    assert r.status_code == 401
    assert error_code(r) == "bad_signature"


def test_signature_covers_the_query_string(cso):
    cso.client.login()
    target = "/api/i3/v1/agreements/?limit=5"
    headers = cso.client.signed_headers("GET", "/api/i3/v1/agreements/?limit=6", b"")
    headers["Authorization"] = f"Bearer {cso.client.access}"
    r = cso.client.django.get(target, headers=headers)
    assert r.status_code == 401
    assert error_code(r) == "bad_signature"


def test_signature_covers_the_body(cso):
    cso.client.login()
    body = b'{"endpoints": []}'
    headers = cso.client.signed_headers("PUT", "/api/i3/v1/partners/me/endpoints", b'{"endpoints": [1]}')
    headers["Authorization"] = f"Bearer {cso.client.access}"
    r = cso.client.django.put(
        "/api/i3/v1/partners/me/endpoints", data=body, content_type="application/json", headers=headers
    )
    assert r.status_code == 401


def test_replayed_nonce_is_401(cso):
    assert cso.client.get("/partners/me", nonce="nonce-0001-abcdef").status_code == 200
    r = cso.client.get("/partners/me", nonce="nonce-0001-abcdef")
    assert r.status_code == 401
    assert error_code(r) == "nonce_reused"


def test_nonces_are_per_partner(cso, csp):
    assert cso.client.get("/partners/me", nonce="shared-nonce-1234").status_code == 200
    assert csp.client.get("/partners/me", nonce="shared-nonce-1234").status_code == 200


def test_stale_timestamp_is_401(cso):
    r = cso.client.get("/partners/me", timestamp=str(int(time.time()) - 301))
    assert r.status_code == 401
    assert error_code(r) == "stale_timestamp"
    r = cso.client.get("/partners/me", timestamp=str(int(time.time()) + 301))
    assert r.status_code == 401


def test_rfc3339_timestamp_is_accepted(cso):
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cso.client.get("/partners/me", timestamp=stamp).status_code == 200
    r = cso.client.get("/partners/me", timestamp="yesterday")
    assert r.status_code == 401
    assert error_code(r) == "invalid_timestamp"


def test_bad_nonce_is_401(cso):
    r = cso.client.get("/partners/me", nonce="short")
    assert r.status_code == 401
    assert error_code(r) == "invalid_nonce"


def test_suspended_partner_is_403_on_requests_and_login(cso):
    cso.client.login()
    services.partner_suspend(partner=cso.partner)
    r = cso.client.get("/partners/me")
    assert r.status_code == 403
    assert error_code(r) == "partner_inactive"
    r = cso.client.post("/auth/token", {"username": cso.username, "password": cso.password}, auth=False)
    assert r.status_code == 403
    services.partner_reactivate(partner=cso.partner)
    assert cso.client.get("/partners/me").status_code == 200


def test_terminated_partner_is_403(cso):
    cso.client.login()
    services.partner_terminate(partner=cso.partner)
    assert cso.client.get("/partners/me").status_code == 403


def test_deactivated_user_is_403(cso):
    cso.client.login()
    services.partner_user_deactivate(partner_user=PartnerUser.objects.get(user__username=cso.username))
    assert cso.client.get("/partners/me").status_code == 403


def test_rotated_secret_invalidates_old_signatures(cso):
    cso.client.login()
    new_secret = services.partner_user_rotate_secret(
        partner_user=PartnerUser.objects.get(user__username=cso.username)
    )
    r = cso.client.get("/partners/me")
    assert r.status_code == 401
    cso.client.secret = new_secret
    assert cso.client.get("/partners/me").status_code == 200


def _as_if_another_process_changed(user_id: int, **db_changes: object) -> None:
    """A change made by another hub process: the database and the shared cache change, this
    process's memory of the principal does not."""
    from django.core.cache import cache

    from clearinghouse.api.principal import principal_cache_key

    if db_changes:
        PartnerUser.objects.filter(user_id=user_id).update(**db_changes)
    cache.delete(principal_cache_key(user_id))


def test_a_suspension_by_another_process_takes_effect_on_the_next_request(cso):
    from partners.models import Partner

    cso.client.login()
    assert cso.client.get("/partners/me").status_code == 200  # this process now knows the principal
    user_id = PartnerUser.objects.get(user__username=cso.username).user_id
    Partner.objects.filter(pk=cso.partner.pk).update(status=Partner.Status.SUSPENDED)
    _as_if_another_process_changed(user_id)
    r = cso.client.get("/partners/me")
    assert r.status_code == 403 and error_code(r) == "partner_inactive"


def test_a_secret_rotated_by_another_process_is_used_on_the_next_request(cso):
    from clearinghouse.api.secrets import field_fernet
    from clearinghouse.lib.crypto import encrypt

    cso.client.login()
    assert cso.client.get("/partners/me").status_code == 200
    user_id = PartnerUser.objects.get(user__username=cso.username).user_id
    old, new = cso.client.secret, "a-new-secret-of-another-process-0123456789"
    PartnerUser.objects.filter(user_id=user_id).update(hmac_secret_encrypted=encrypt(field_fernet(), new))
    _as_if_another_process_changed(user_id)
    r = cso.client.get("/partners/me")
    assert r.status_code == 401 and error_code(r) == "bad_signature"
    cso.client.secret = new
    assert cso.client.get("/partners/me").status_code == 200
    cso.client.secret = old
    assert cso.client.get("/partners/me").status_code == 401


def test_a_verified_token_is_refused_once_it_expires(cso, monkeypatch):
    cso.client.login()
    assert cso.client.get("/partners/me").status_code == 200  # verified and remembered
    expires = AccessToken(cso.client.access)["exp"]
    later = expires + 1
    monkeypatch.setattr(authentication.time, "time", lambda: later)
    monkeypatch.setattr(
        "rest_framework_simplejwt.tokens.aware_utcnow", lambda: datetime.fromtimestamp(later, UTC)
    )
    r = cso.client.get("/partners/me", timestamp=str(int(later)))
    assert r.status_code == 401 and error_code(r) == "token_expired"


def test_refresh_gives_a_new_access_token(cso):
    cso.client.login()
    r = cso.client.post("/auth/token/refresh", {"refresh": cso.client.refresh}, auth=False)
    assert r.status_code == 200
    assert r.json()["expires_in"] == 1200
    cso.client.access = r.json()["access"]
    assert cso.client.get("/partners/me").status_code == 200


def test_refresh_with_garbage_or_unsigned_is_401(cso):
    cso.client.login()
    r = cso.client.post("/auth/token/refresh", {"refresh": "nope"}, auth=False)
    assert r.status_code == 401
    r = cso.client.post("/auth/token/refresh", {"refresh": cso.client.refresh}, auth=False, sign=False)
    assert r.status_code == 401


def test_refresh_refused_for_suspended_partner(cso):
    cso.client.login()
    services.partner_suspend(partner=cso.partner)
    r = cso.client.post("/auth/token/refresh", {"refresh": cso.client.refresh}, auth=False)
    assert r.status_code == 403


def test_replay_protection_survives_a_cache_outage(cso, monkeypatch):
    """With the cache down, nonces go to the database: a replay is still refused."""
    from django.core.cache import cache

    cso.client.login()

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", down)
    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    monkeypatch.setattr(authentication, "round_trip", down)  # the pipelined path on Redis
    # Signed after the outage began (the hub refuses what was signed before it: it cannot know).
    later = str(int(time.time()) + 2)
    assert cso.client.get("/partners/me", nonce="outage-nonce-0001", timestamp=later).status_code == 200
    r = cso.client.get("/partners/me", nonce="outage-nonce-0001", timestamp=later)
    assert r.status_code == 401
    assert error_code(r) == "nonce_reused"
    # A request signed before the outage began cannot be proven fresh: refused.
    early = str(int(time.time()) - 60)
    assert cso.client.get("/partners/me", nonce="outage-nonce-0002", timestamp=early).status_code == 401


def test_an_earlier_outage_does_not_open_a_replay_window_in_the_next(cso, monkeypatch):
    """A process that met an outage, then served nothing while the cache was back (other processes
    accepted nonces there), must not take the old start for the new outage's."""
    from django.core.cache import cache

    from clearinghouse.api import nonces

    now = time.time()
    # This process lost the cache 30 s ago and last met the failure 3 s ago.
    nonces._state.update(down_since=now - 30, last_failure=now - 3)

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", down)
    # Signed 2 s ago: the cache may have accepted it in between, so it cannot be proven fresh.
    assert not nonces.nonce_claim(partner_id=cso.partner.pk, nonce="between-outages", timestamp=now - 2)
    # Within the same outage the start holds: a request signed after it passes.
    assert nonces.nonce_claim(partner_id=cso.partner.pk, nonce="during-outage", timestamp=now + 1)


def test_passwords_are_hashed_with_argon2_in_production_settings():
    from django.conf import settings

    assert "django.contrib.auth.hashers.Argon2PasswordHasher" in settings.PASSWORD_HASHERS
    # Outside the test environment Argon2 is the first (the one that hashes).
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.PASSWORD_HASHERS[0])"],
        env={"DJANGO_SETTINGS_MODULE": "clearinghouse.settings", "DJANGO_ENV": "development", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "django.contrib.auth.hashers.Argon2PasswordHasher"
