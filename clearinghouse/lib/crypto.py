"""Secrets at rest: Fernet encryption for values the hub must read back (partners' HMAC secrets),
keyed hashes for values it only needs to recognise (credential lookups)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def _derive_fernet_key(material: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())


def fernet_from(keys: str, fallback_material: str) -> MultiFernet:
    """A MultiFernet from comma-separated keys (first encrypts, all decrypt).

    With no keys configured (development only: production refuses to start without one) a key is
    derived from fallback_material, the secret key.
    """
    items = [k.strip() for k in (keys or "").split(",") if k.strip()]
    if not items:
        return MultiFernet([Fernet(_derive_fernet_key("field-encryption:" + fallback_material))])
    fernets = []
    for item in items:
        try:
            fernets.append(Fernet(item.encode()))
        except ValueError:
            # Not a Fernet key: treat it as key material, so an operator may use any long random string.
            fernets.append(Fernet(_derive_fernet_key(item)))
    return MultiFernet(fernets)


def encrypt(fernet: MultiFernet, value: str) -> str:
    return fernet.encrypt(value.encode()).decode()


def decrypt(fernet: MultiFernet, token: str) -> str:
    try:
        return fernet.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with the configured keys") from exc


def keyed_hash(key: str | bytes, value: str) -> str:
    """Hex HMAC-SHA256 of value: a lookup key that does not reveal the value without the key."""
    k = key.encode() if isinstance(key, str) else key
    return hmac.new(k, value.encode(), hashlib.sha256).hexdigest()


def random_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
