"""Credentials issued by the hub: contract IDs under the hub's provider ID, and dynamic QR codes."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from clearinghouse.audit import audit_record
from clearinghouse.errors import ConflictError, Forbidden, NotFoundError, RuleViolation
from clearinghouse.lib.crypto import random_secret
from clearinghouse.lib.identifiers import make_contract_id, mask
from partners.models import RoamingAgreement
from partners.selectors import active_agreements

from ..inputs import CONTRACT_TYPES, IssueRequest
from ..keys import lookup_hash, qr_key
from ..models import Credential, CredentialType, DynamicQrUse, IssuedContract
from ..qr import qr_code_make
from .credentials import driver_data_save

_INSTANCE_ALPHABET = string.ascii_uppercase + string.digits
_USERNAME_ALPHABET = string.ascii_lowercase + string.digits
_ATTEMPTS = 8


@dataclass(frozen=True)
class IssuedCredential:
    """A credential the hub issued, with the values shown once (empty when `replayed`)."""

    credential: Credential
    value: str
    pin: str | None
    password: str | None
    replayed: bool = False


def _new_contract_id(csp_id: int) -> str:
    """A fresh contract ID under the hub's provider ID; the unique column settles collisions."""
    for _ in range(_ATTEMPTS):
        instance = "".join(secrets.choice(_INSTANCE_ALPHABET) for _ in range(9))
        contract_id = make_contract_id(settings.HUB_COUNTRY_CODE, settings.HUB_PARTY_ID, instance)
        try:
            with transaction.atomic():
                IssuedContract.objects.create(contract_id=contract_id, csp_id=csp_id)
        except IntegrityError:
            continue
        return contract_id
    raise ConflictError("contract_id_unavailable", "no free contract ID was found; try again")


def _replay(prior: Credential, request_hash: str) -> IssuedCredential:
    if prior.issue_request_hash != request_hash:
        raise ConflictError(
            "idempotency_key_reused", "This Idempotency-Key was used with a different request."
        )
    return IssuedCredential(credential=prior, value="", pin=None, password=None, replayed=True)


def _value_for(request: IssueRequest, contract_id: str) -> tuple[str, bool]:
    """(lookup value, whether the hub chose it and may choose again on a collision)."""
    if request.type in CONTRACT_TYPES:
        return contract_id, False
    if request.type == CredentialType.APP_USER and not request.value:
        return "u" + "".join(secrets.choice(_USERNAME_ALPHABET) for _ in range(11)), True
    return request.value, False


@transaction.atomic
def credential_issue(
    *,
    csp_id: int,
    request: IssueRequest,
    idempotency_key: str = "",
    request_hash: str = "",
    by_staff: bool = False,
) -> IssuedCredential:
    """Issue a credential with the hub as issuer, for a CSP whose agreements use HUB_ISSUED (staff
    may issue for any CSP). A new contract ID is made unless the request names one of the CSP's
    hub-issued contracts. Secrets not given (an app password, a PIN asked for) are generated; the
    answer is the only place they appear in clear.

    An Idempotency-Key is kept on the credential itself: a repeat finds it and answers without the
    values, which the hub does not keep.
    """
    if idempotency_key:
        prior = Credential.objects.filter(csp_id=csp_id, issue_key=idempotency_key).first()
        if prior is not None:
            return _replay(prior, request_hash)
    if not by_staff and not (
        active_agreements()
        .filter(csp_id=csp_id, authorization_subtype=RoamingAgreement.AuthorizationSubtype.HUB_ISSUED)
        .exists()
    ):
        raise Forbidden(
            "hub_issuance_not_agreed", "credentials are issued by the hub only under a HUB_ISSUED agreement"
        )
    if request.contract_id:
        if not IssuedContract.objects.filter(contract_id=request.contract_id, csp_id=csp_id).exists():
            raise NotFoundError("unknown_contract", "the hub issued no contract with this ID for you")
        contract_id = request.contract_id
    else:
        contract_id = _new_contract_id(csp_id)
    pin = request.pin
    if request.generate_pin:
        pin = f"{secrets.randbelow(10**6):06d}"
    password = request.password
    if request.type == CredentialType.APP_USER and password is None:
        password = random_secret(12)
    now = timezone.now()
    for _ in range(_ATTEMPTS):
        value, chosen_by_hub = _value_for(request, contract_id)
        try:
            with transaction.atomic():
                credential = Credential.objects.create(
                    csp_id=csp_id,
                    issuer=Credential.Issuer.HUB,
                    type=request.type,
                    lookup_hash=lookup_hash(request.type, value),
                    value_hint=mask(value),
                    contract_id=contract_id,
                    whitelist=request.whitelist,
                    valid_from=request.valid_from,
                    valid_until=request.valid_until,
                    visual_number=request.visual_number,
                    group_id=request.group_id,
                    pin_hash=make_password(pin) if pin is not None else "",
                    password_hash=make_password(password) if password is not None else "",
                    certificate_fingerprint=request.certificate_fingerprint,
                    issue_key=idempotency_key,
                    issue_request_hash=request_hash if idempotency_key else "",
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            if (
                idempotency_key
                and Credential.objects.filter(csp_id=csp_id, issue_key=idempotency_key).exists()
            ):
                raise ConflictError(
                    "idempotency_in_progress",
                    "A request with this Idempotency-Key was just served; send it again.",
                ) from None
            if chosen_by_hub:
                continue
            if request.type in CONTRACT_TYPES:
                raise ConflictError(
                    "credential_exists", f"this contract has a {request.type} credential already"
                ) from None
            raise ConflictError(
                "credential_taken", "this credential is registered at the hub already"
            ) from None
        break
    else:
        raise ConflictError("username_unavailable", "no free username was found; try again")
    if request.driver is not None:
        driver_data_save(csp_id=csp_id, contract_id=contract_id, driver=request.driver, now=now)
    audit_record(
        action="credential.issue",
        obj=credential,
        partner_id=csp_id,
        details={"type": request.type, "contract_id": contract_id, "by_staff": by_staff},
    )
    return IssuedCredential(credential=credential, value=value, pin=pin, password=password)


@dataclass(frozen=True)
class DynamicQr:
    code: str
    expires_at: datetime


def dynamic_qr_issue(*, csp_id: int, credential_id: int, now: datetime | None = None) -> DynamicQr:
    """A fresh dynamic QR code for a CSP's valid QR_DYNAMIC credential, valid DYNAMIC_QR_TTL_SECONDS
    and usable once. Nothing is written: the code is signed, and its use is recorded when used."""
    credential = Credential.objects.filter(pk=credential_id, csp_id=csp_id).values("type", "status").first()
    if credential is None:
        raise NotFoundError("not_found", "No such credential.")
    if credential["type"] != CredentialType.QR_DYNAMIC:
        raise RuleViolation("not_dynamic_qr", "only QR_DYNAMIC credentials have dynamic codes")
    if credential["status"] != Credential.State.VALID:
        raise RuleViolation("credential_not_valid", f"the credential is {credential['status'].lower()}")
    now = now or timezone.now()
    expires_at = int(now.timestamp()) + settings.DYNAMIC_QR_TTL_SECONDS
    code = qr_code_make(key=qr_key(), credential_id=credential_id, expires_at=expires_at)
    return DynamicQr(code=code, expires_at=datetime.fromtimestamp(expires_at, tz=UTC))


def dynamic_qr_uses_purge(*, now: datetime | None = None) -> int:
    """Forget used codes past their expiry: an expired code is refused by its signature alone."""
    cutoff = (now or timezone.now()) - timedelta(seconds=60)
    deleted, _ = DynamicQrUse.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
