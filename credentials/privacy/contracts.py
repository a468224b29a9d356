"""The contract an erasure or export is about: its spellings, its pseudonym under the configured key,
the scrubber that recognises its credential values, and the CSP that owns it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import Q

from clearinghouse.errors import InvalidInput
from clearinghouse.lib.identifiers import IdentifierError, normalize_rfid_uid, parse_contract_id
from partners.models import Partner

from ..inputs import InputProblem, normalize_username
from ..keys import lookup_hash
from ..models import AuthorizationRecord, Credential
from ..selectors import credential_owner
from .identity import contract_spellings, pseudonym_for
from .scrub import Scrubber


@dataclass(frozen=True)
class Contract:
    """One contract in all its spellings (canonical first) and with its pseudonym."""

    canonical: str
    spellings: list[str]
    pseudonym: str
    provider_id: str


def pseudonym_of(contract_id: str) -> str:
    """The pseudonym that replaces a contract ID (any spelling) under PRIVACY_PSEUDONYM_KEY."""
    return pseudonym_for(settings.PRIVACY_PSEUDONYM_KEY, contract_id)


def contract_read(value: object) -> Contract:
    """A contract ID as a partner or staff wrote it; InvalidInput (400) when it is not one."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("missing_contract_id", "contract_id is required", {"field": "contract_id"})
    try:
        parsed = parse_contract_id(value)
    except IdentifierError as exc:
        raise InvalidInput(exc.code, exc.message, {"field": "contract_id"}) from None
    canonical = parsed.normalized()
    return Contract(
        canonical=canonical,
        spellings=contract_spellings(canonical),
        pseudonym=pseudonym_of(canonical),
        provider_id=parsed.provider_id,
    )


def contract_owner_id(contract: Contract) -> int | None:
    """The CSP that owns the contract: the CSP of its credentials or of its hub-issued contract ID,
    else the CSP whose provider ID the contract carries. None when no CSP is known."""
    owner = credential_owner(contract_id=contract.canonical)
    if owner is not None:
        return owner.csp_id
    country, party = contract.provider_id.split("-")
    return (
        Partner.objects.filter(country_code=country, party_id=party, is_csp=True)
        .values_list("pk", flat=True)
        .first()
    )


def text_filter(field: str, terms: list[str]) -> Q:
    """Rows whose text or JSON column `field` names the contract in any spelling (case-insensitive)."""
    return reduce(or_, (Q(**{f"{field}__icontains": term}) for term in terms))


def credential_hashes(contract_ids: list[str]) -> set[str]:
    """The lookup hashes of the contract's credentials, and of every credential presented for it."""
    hashes = set(
        Credential.objects.filter(contract_id__in=contract_ids).values_list("lookup_hash", flat=True)
    )
    hashes.update(
        AuthorizationRecord.objects.filter(contract_id__in=contract_ids)
        .exclude(lookup_hash="")
        .values_list("lookup_hash", flat=True)
    )
    return hashes


def _credential_test(hashes: set[str]) -> Callable[[str], bool]:
    def is_credential_value(value: str) -> bool:
        if not hashes:
            return False
        candidates: list[tuple[str, str]] = []
        with suppress(IdentifierError):
            candidates.append(("RFID", normalize_rfid_uid(value)))
        with suppress(InputProblem):
            candidates.append(("APP_USER", normalize_username(value)))
        return any(lookup_hash(kind, normalized) in hashes for kind, normalized in candidates)

    return is_credential_value


def scrubber_for(contract_ids: list[str], pseudonym: str) -> Scrubber:
    """A scrubber for the contract that also recognises the values of its credentials (while they
    exist: the credentials app's own erasure steps, which delete them, run last)."""
    return Scrubber(
        spellings=contract_ids,
        pseudonym=pseudonym,
        is_credential_value=_credential_test(credential_hashes(contract_ids)),
    )
