"""Writes to the partner registry: onboarding, status changes, API users, endpoints, agreements."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from clearinghouse.api.principal import principal_invalidate
from clearinghouse.api.secrets import field_fernet
from clearinghouse.audit import audit_record
from clearinghouse.errors import (
    ConflictError,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    Locked,
    Unauthorized,
)
from clearinghouse.lib.codes import is_currency
from clearinghouse.lib.crypto import encrypt, random_secret
from clearinghouse.lib.identifiers import IdentifierError, normalize_country_code, normalize_party_id

from .models import Partner, PartnerUser, RoamingAgreement, RoamingEndpoint

User = get_user_model()

# Which status each action may start from, and where it leads.
_TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "approve": ({Partner.Status.PENDING}, Partner.Status.ACTIVE),
    "suspend": ({Partner.Status.ACTIVE}, Partner.Status.SUSPENDED),
    "reactivate": ({Partner.Status.SUSPENDED}, Partner.Status.ACTIVE),
    "terminate": (
        {Partner.Status.PENDING, Partner.Status.ACTIVE, Partner.Status.SUSPENDED},
        Partner.Status.TERMINATED,
    ),
}

ROLES = ("CSO", "CSP")


@dataclass(frozen=True)
class IssuedApiCredentials:
    """Shown once, when issued: the hub keeps only the password hash and the encrypted secret."""

    username: str
    password: str
    hmac_secret: str


def _clean_roles(roles: list[str] | tuple[str, ...] | set[str]) -> set[str]:
    cleaned = {r.strip().upper() for r in roles if r and r.strip()}
    unknown = cleaned - set(ROLES)
    if unknown or not cleaned:
        raise InvalidInput("invalid_roles", "roles must be CSO, CSP or both")
    return cleaned


def partner_create(
    *,
    name: str,
    country_code: str,
    party_id: str,
    roles: list[str] | tuple[str, ...] | set[str],
    legal_name: str = "",
    vat_id: str = "",
    settlement_currency: str = "EUR",
    contact_email: str = "",
    billing_street: str = "",
    billing_postal_code: str = "",
    billing_city: str = "",
    billing_country: str = "",
) -> Partner:
    """Register a partner in PENDING state, after validating its identifiers."""
    if not name or not name.strip():
        raise InvalidInput("invalid_name", "name is required")
    try:
        country = normalize_country_code(country_code)
        party = normalize_party_id(party_id)
        billing_country_clean = normalize_country_code(billing_country) if billing_country else ""
    except IdentifierError as exc:
        raise InvalidInput(exc.code, str(exc)) from None
    if not is_currency(settlement_currency):
        raise InvalidInput("invalid_currency", "settlement currency must be an ISO 4217 code")
    if contact_email:
        try:
            EmailValidator()(contact_email)
        except ValidationError:
            raise InvalidInput("invalid_email", "contact e-mail is not valid") from None
    role_set = _clean_roles(roles)
    try:
        with transaction.atomic():
            partner = Partner.objects.create(
                name=name.strip(),
                legal_name=legal_name.strip() or name.strip(),
                country_code=country,
                party_id=party,
                is_cso="CSO" in role_set,
                is_csp="CSP" in role_set,
                vat_id=vat_id,
                settlement_currency=settlement_currency,
                contact_email=contact_email,
                billing_street=billing_street,
                billing_postal_code=billing_postal_code,
                billing_city=billing_city,
                billing_country=billing_country_clean,
            )
            audit_record(action="partner.create", obj=partner, partner_id=partner.pk)
    except IntegrityError:
        raise ConflictError(
            "partner_exists", f"a partner with party {country}{party} is already registered"
        ) from None
    return partner


@transaction.atomic
def partner_transition(*, partner: Partner, action: str) -> Partner:
    """Move a partner through PENDING → ACTIVE ⇄ SUSPENDED → TERMINATED, refusing other moves.

    The UPDATE is conditional on the current status, so two staff members clicking at once cannot
    both apply a transition from the same state.
    """
    if action not in _TRANSITIONS:
        raise InvalidInput("invalid_action", f"unknown action {action}")
    sources, target = _TRANSITIONS[action]
    changed = Partner.objects.filter(pk=partner.pk, status__in=sources).update(
        status=target, updated_at=timezone.now()
    )
    if not changed:
        partner.refresh_from_db(fields=["status"])
        raise InvalidTransition(
            "invalid_transition", f"cannot {action} a partner that is {partner.status.lower()}"
        )
    previous = partner.status
    partner.refresh_from_db()
    principal_invalidate(user_ids=list(partner.api_users.values_list("user_id", flat=True)))
    audit_record(
        action=f"partner.{action}",
        obj=partner,
        partner_id=partner.pk,
        details={"from": previous, "to": target},
    )
    return partner


def partner_approve(*, partner: Partner) -> Partner:
    return partner_transition(partner=partner, action="approve")


def partner_suspend(*, partner: Partner) -> Partner:
    return partner_transition(partner=partner, action="suspend")


def partner_reactivate(*, partner: Partner) -> Partner:
    return partner_transition(partner=partner, action="reactivate")


def partner_terminate(*, partner: Partner) -> Partner:
    return partner_transition(partner=partner, action="terminate")


def _new_username(partner: Partner) -> str:
    base = f"{partner.country_code}{partner.party_id}".lower()
    return f"{base}-{secrets.token_hex(3)}"


@transaction.atomic
def partner_user_issue(
    *, partner: Partner, username: str | None = None, password: str | None = None
) -> IssuedApiCredentials:
    """Create an API login for a partner; the password and HMAC secret are returned once."""
    if partner.status == Partner.Status.TERMINATED:
        raise InvalidTransition("partner_terminated", "a terminated partner gets no API credentials")
    username = (username or _new_username(partner)).strip()
    if not username or len(username) > 150:
        raise InvalidInput("invalid_username", "username must be 1 to 150 characters")
    password = password or random_secret(24)
    if len(password) < 12:
        raise InvalidInput("weak_password", "password must have at least 12 characters")
    if User.objects.filter(username=username).exists():
        raise ConflictError("username_taken", f"username {username} is taken")
    secret = random_secret(32)
    user = User.objects.create_user(username=username, password=password, is_staff=False)
    pu = PartnerUser.objects.create(
        user=user, partner=partner, hmac_secret_encrypted=encrypt(field_fernet(), secret)
    )
    audit_record(action="partner_user.issue", obj=pu, partner_id=partner.pk, details={"username": username})
    return IssuedApiCredentials(username=username, password=password, hmac_secret=secret)


@transaction.atomic
def partner_user_rotate_secret(*, partner_user: PartnerUser) -> str:
    """Replace an API user's HMAC secret; the old one stops working at once."""
    secret = random_secret(32)
    PartnerUser.objects.filter(pk=partner_user.pk).update(
        hmac_secret_encrypted=encrypt(field_fernet(), secret), secret_rotated_at=timezone.now()
    )
    principal_invalidate(user_ids=[partner_user.user_id])
    audit_record(action="partner_user.rotate_secret", obj=partner_user, partner_id=partner_user.partner_id)
    return secret


@transaction.atomic
def partner_user_deactivate(*, partner_user: PartnerUser) -> None:
    User.objects.filter(pk=partner_user.user_id).update(is_active=False)
    principal_invalidate(user_ids=[partner_user.user_id])
    audit_record(action="partner_user.deactivate", obj=partner_user, partner_id=partner_user.partner_id)


def partner_user_login(*, partner_user: PartnerUser, password: str) -> PartnerUser:
    """Check a login; repeated failures lock the account for I3_LOGIN_LOCK_SECONDS.

    Counting uses F() updates so concurrent wrong guesses from several processes all count.
    """
    now = timezone.now()
    if partner_user.locked_until and partner_user.locked_until > now:
        retry = int((partner_user.locked_until - now).total_seconds()) + 1
        raise Locked("account_locked", "Too many failed logins; the account is locked for a while.", retry)
    if not partner_user.user.check_password(password):
        PartnerUser.objects.filter(pk=partner_user.pk).update(failed_logins=F("failed_logins") + 1)
        locked = PartnerUser.objects.filter(
            pk=partner_user.pk, failed_logins__gte=settings.I3_LOGIN_MAX_FAILURES
        ).update(locked_until=now + timedelta(seconds=settings.I3_LOGIN_LOCK_SECONDS), failed_logins=0)
        audit_record(
            action="partner_user.login_failed",
            obj=partner_user,
            partner_id=partner_user.partner_id,
            user_id=partner_user.user_id,
            details={"locked": bool(locked)},
        )
        if locked:
            raise Locked(
                "account_locked",
                "Too many failed logins; the account is locked for a while.",
                settings.I3_LOGIN_LOCK_SECONDS,
            )
        raise Unauthorized("invalid_credentials", "Wrong username or password.")
    if not partner_user.user.is_active:
        raise Forbidden("user_inactive", "This API user is deactivated.")
    if partner_user.partner.status != Partner.Status.ACTIVE:
        raise Forbidden(
            "partner_inactive", f"Partner is {partner_user.partner.status.lower()}; API access is refused."
        )
    if partner_user.failed_logins or partner_user.locked_until:
        PartnerUser.objects.filter(pk=partner_user.pk).update(failed_logins=0, locked_until=None)
    return partner_user


def _validate_endpoint(item: Any, index: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidInput("invalid_endpoint", f"endpoints[{index}] must be an object")
    role = str(item.get("role", "")).upper()
    if role not in ROLES:
        raise InvalidInput("invalid_endpoint", f"endpoints[{index}].role must be CSO or CSP")
    url = item.get("url")
    if not isinstance(url, str):
        raise InvalidInput("invalid_endpoint", f"endpoints[{index}].url is required")
    schemes = ["https", "http"] if settings.ROUTING_ALLOW_HTTP else ["https"]
    try:
        URLValidator(schemes=schemes)(url)
    except ValidationError:
        raise InvalidInput(
            "invalid_endpoint", f"endpoints[{index}].url must be an absolute {' or '.join(schemes)} URL"
        ) from None
    protocol = item.get("protocol", "i3")
    if protocol != "i3":
        raise InvalidInput("invalid_endpoint", f"endpoints[{index}].protocol must be i3")
    version = str(item.get("version", "1"))
    if version != "1":
        raise InvalidInput("invalid_endpoint", f"endpoints[{index}].version must be 1")
    return {"role": role, "url": url, "protocol": protocol, "version": version}


@transaction.atomic
def endpoints_replace(*, partner: Partner, endpoints: Any) -> list[RoamingEndpoint]:
    """Replace a partner's roaming endpoints with the given set (one per role and protocol)."""
    if not isinstance(endpoints, list):
        raise InvalidInput("invalid_endpoints", "endpoints must be a list")
    cleaned = [_validate_endpoint(item, i) for i, item in enumerate(endpoints)]
    seen: set[tuple[str, str]] = set()
    for item in cleaned:
        key = (item["role"], item["protocol"])
        if key in seen:
            raise InvalidInput("duplicate_endpoint", f"more than one {item['role']} endpoint given")
        seen.add(key)
        if (item["role"] == "CSO" and not partner.is_cso) or (item["role"] == "CSP" and not partner.is_csp):
            raise InvalidInput("role_not_held", f"the partner does not hold the {item['role']} role")
    RoamingEndpoint.objects.filter(partner=partner).delete()
    created = [RoamingEndpoint.objects.create(partner=partner, **item) for item in cleaned]
    audit_record(
        action="partner.endpoints_replace",
        obj=partner,
        partner_id=partner.pk,
        details={"endpoints": [{"role": e.role, "url": e.url} for e in created]},
    )
    return created


def _overlaps(qs: Any, valid_from: datetime, valid_until: datetime | None) -> Any:
    qs = qs.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=valid_from))
    if valid_until is not None:
        qs = qs.filter(valid_from__lt=valid_until)
    return qs


@transaction.atomic
def agreement_create(
    *,
    cso: Partner,
    csp: Partner,
    mode: str = RoamingAgreement.Mode.CLEARING_HOUSE,
    authorization_subtype: str = RoamingAgreement.AuthorizationSubtype.CSP_ISSUED,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    pinned_tariff_id: str = "",
) -> RoamingAgreement:
    """Make an agreement between a CSO and a CSP; at most one active one per pair and period.

    The CSO's row is locked first, so two simultaneous creations for the same pair are serialised
    and the overlap check cannot be raced.
    """
    if cso.pk == csp.pk:
        raise InvalidInput("same_partner", "a partner cannot make an agreement with itself")
    Partner.objects.select_for_update().filter(pk__in=[cso.pk, csp.pk]).order_by("pk").exists()
    cso.refresh_from_db()
    csp.refresh_from_db()
    if not cso.is_cso:
        raise InvalidInput("role_not_held", f"{cso} does not hold the CSO role")
    if not csp.is_csp:
        raise InvalidInput("role_not_held", f"{csp} does not hold the CSP role")
    if Partner.Status.TERMINATED in (cso.status, csp.status):
        raise InvalidInput("partner_terminated", "a terminated partner cannot enter an agreement")
    if mode not in RoamingAgreement.Mode.values:
        raise InvalidInput("invalid_mode", "mode must be CLEARING_HOUSE or MIXED")
    if authorization_subtype not in RoamingAgreement.AuthorizationSubtype.values:
        raise InvalidInput("invalid_authorization", "authorization must be HUB_ISSUED or CSP_ISSUED")
    valid_from = valid_from or timezone.now()
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidInput("invalid_validity", "valid_until must be after valid_from")
    clash = _overlaps(
        RoamingAgreement.objects.filter(cso=cso, csp=csp, status=RoamingAgreement.Status.ACTIVE),
        valid_from,
        valid_until,
    ).first()
    if clash:
        raise ConflictError(
            "agreement_overlap",
            f"an active agreement between these partners already covers that period (#{clash.pk})",
        )
    agreement = RoamingAgreement.objects.create(
        cso=cso,
        csp=csp,
        mode=mode,
        authorization_subtype=authorization_subtype,
        valid_from=valid_from,
        valid_until=valid_until,
        pinned_tariff_id=pinned_tariff_id,
    )
    audit_record(action="agreement.create", obj=agreement, partner_id=cso.pk)
    return agreement


@transaction.atomic
def agreement_set_status(*, agreement: RoamingAgreement, status: str) -> RoamingAgreement:
    """Suspend, reactivate or terminate an agreement (terminated is final)."""
    allowed = {
        RoamingAgreement.Status.ACTIVE: {RoamingAgreement.Status.SUSPENDED},
        RoamingAgreement.Status.SUSPENDED: {RoamingAgreement.Status.ACTIVE},
        RoamingAgreement.Status.TERMINATED: {
            RoamingAgreement.Status.ACTIVE,
            RoamingAgreement.Status.SUSPENDED,
        },
    }
    if status not in allowed:
        raise InvalidInput("invalid_status", "status must be ACTIVE, SUSPENDED or TERMINATED")
    if status == RoamingAgreement.Status.ACTIVE:
        clash = _overlaps(
            RoamingAgreement.objects.filter(
                cso_id=agreement.cso_id, csp_id=agreement.csp_id, status=RoamingAgreement.Status.ACTIVE
            ).exclude(pk=agreement.pk),
            agreement.valid_from,
            agreement.valid_until,
        ).exists()
        if clash:
            raise ConflictError("agreement_overlap", "another active agreement covers that period")
    now = timezone.now()
    changes: dict[str, Any] = {"status": status, "updated_at": now}
    if status == RoamingAgreement.Status.TERMINATED and (
        agreement.valid_until is None or agreement.valid_until > now
    ):
        # The agreement ends now: sessions held while it was in force still settle under it.
        changes["valid_until"] = max(now, agreement.valid_from + timedelta(microseconds=1))
    changed = RoamingAgreement.objects.filter(pk=agreement.pk, status__in=allowed[status]).update(**changes)
    if not changed:
        raise InvalidTransition(
            "invalid_transition", f"cannot move a {agreement.status} agreement to {status}"
        )
    previous = agreement.status
    agreement.refresh_from_db()
    audit_record(
        action="agreement.status",
        obj=agreement,
        partner_id=agreement.cso_id,
        details={"from": previous, "to": status},
    )
    return agreement


@transaction.atomic
def partner_onboard(
    *,
    name: str,
    country_code: str,
    party_id: str,
    roles: list[str],
    endpoint_url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    **extra: Any,
) -> tuple[Partner, IssuedApiCredentials]:
    """Scripted onboarding: create, activate, register endpoints, issue API credentials."""
    partner = partner_create(name=name, country_code=country_code, party_id=party_id, roles=roles, **extra)
    partner = partner_approve(partner=partner)
    if endpoint_url:
        endpoints_replace(
            partner=partner,
            endpoints=[{"role": role, "url": endpoint_url} for role in partner.roles],
        )
    issued = partner_user_issue(partner=partner, username=username, password=password)
    return partner, issued
