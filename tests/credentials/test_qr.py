"""Dynamic QR codes (credentials/qr.py), without a database."""

from __future__ import annotations

import pytest

from credentials.qr import QrCodeError, qr_code_make, qr_code_read

KEY = b"k" * 32


def test_round_trip() -> None:
    code = qr_code_make(key=KEY, credential_id=17, expires_at=1_000_060)
    read = qr_code_read(key=KEY, code=code, now=1_000_000)
    assert (read.credential_id, read.expires_at) == (17, 1_000_060)
    assert len(read.nonce) == 32


def test_codes_are_distinct_and_qr_alphanumeric() -> None:
    codes = {qr_code_make(key=KEY, credential_id=17, expires_at=1_000_060) for _ in range(50)}
    assert len(codes) == 50
    alphabet = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert all(set(code) <= alphabet for code in codes)


def test_lower_case_and_blanks_are_read() -> None:
    code = qr_code_make(key=KEY, credential_id=17, expires_at=1_000_060)
    assert qr_code_read(key=KEY, code=f"  {code.lower()} ", now=1_000_000).credential_id == 17


def _reason(code: str, now: float = 1_000_000, key: bytes = KEY) -> str:
    with pytest.raises(QrCodeError) as info:
        qr_code_read(key=key, code=code, now=now)
    return info.value.reason


def test_expired() -> None:
    code = qr_code_make(key=KEY, credential_id=17, expires_at=1_000_060)
    assert _reason(code, now=1_000_060) == "CODE_EXPIRED"
    assert _reason(code, now=1_000_061) == "CODE_EXPIRED"


def test_forged_or_damaged() -> None:
    code = qr_code_make(key=KEY, credential_id=17, expires_at=1_000_060)
    prefix, cred, exp, nonce, mac = code.split(".")
    assert _reason(code, key=b"other") == "INVALID_CODE"
    assert _reason(".".join([prefix, "18", exp, nonce, mac])) == "INVALID_CODE"  # another credential
    assert _reason(".".join([prefix, cred, "9999999999", nonce, mac])) == "INVALID_CODE"  # longer life
    assert (
        _reason(".".join([prefix, cred, exp, nonce, mac[:-1] + ("0" if mac[-1] != "0" else "1")]))
        == "INVALID_CODE"
    )


def test_a_forged_code_is_invalid_even_when_expired() -> None:
    code = qr_code_make(key=b"other", credential_id=17, expires_at=10)
    assert _reason(code) == "INVALID_CODE"


@pytest.mark.parametrize("junk", ["", "I3Q1", "I3Q1.0.1.AA.BB", "NL-BMO-C12345678", "x" * 500, None, 17])
def test_junk(junk: object) -> None:
    assert _reason(junk) == "INVALID_CODE"  # type: ignore[arg-type]
