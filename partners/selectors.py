"""Reads of the partner registry."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from clearinghouse.api.principal import Principal

from .models import Partner, PartnerUser, RoamingAgreement, RoamingEndpoint


def principal_load(*, user_id: int) -> Principal | None:
    """The API principal of a user (one query); None for a user that is no partner's API user."""
    pu = PartnerUser.objects.select_related("partner", "user").filter(user_id=user_id).first()
    return _principal_of(pu) if pu else None


def _principal_of(pu: PartnerUser) -> Principal:
    partner = pu.partner
    return Principal(
        user_id=pu.user_id,
        username=pu.user.get_username(),
        user_active=pu.user.is_active,
        partner_id=partner.pk,
        partner_status=partner.status,
        country_code=partner.country_code,
        party_id=partner.party_id,
        is_cso=partner.is_cso,
        is_csp=partner.is_csp,
        secret_encrypted=pu.hmac_secret_encrypted,
    )


def partner_user_by_username(*, username: str) -> PartnerUser | None:
    return PartnerUser.objects.select_related("partner", "user").filter(user__username=username).first()


def partner_get(*, partner_id: int) -> Partner:
    return Partner.objects.get(pk=partner_id)


def partner_by_operator_id(*, country_code: str, party_id: str) -> Partner | None:
    return Partner.objects.filter(country_code=country_code, party_id=party_id, is_cso=True).first()


def partner_by_provider_id(*, country_code: str, party_id: str) -> Partner | None:
    return Partner.objects.filter(country_code=country_code, party_id=party_id, is_csp=True).first()


def active_agreements(*, at: datetime | None = None) -> QuerySet[RoamingAgreement]:
    """Agreements in force at a moment: ACTIVE, started, not ended, both partners active."""
    at = at or timezone.now()
    return RoamingAgreement.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=at),
        status=RoamingAgreement.Status.ACTIVE,
        valid_from__lte=at,
        cso__status=Partner.Status.ACTIVE,
        csp__status=Partner.Status.ACTIVE,
    )


def agreement_in_force_at(*, cso_id: int, csp_id: int, at: datetime) -> RoamingAgreement | None:
    """The agreement that covered a past moment (a session's start), terminated ones included.

    A terminated agreement keeps the validity it had (termination closes `valid_until`), so records
    of sessions held while it was in force still validate after it ended. Suspended agreements do
    not count: nothing may be charged under them.
    """
    return (
        RoamingAgreement.objects.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=at),
            cso_id=cso_id,
            csp_id=csp_id,
            valid_from__lte=at,
            status__in=[RoamingAgreement.Status.ACTIVE, RoamingAgreement.Status.TERMINATED],
        )
        .order_by("-valid_from")
        .first()
    )


def agreement_active_between(
    *, cso_id: int, csp_id: int, at: datetime | None = None
) -> RoamingAgreement | None:
    return active_agreements(at=at).filter(cso_id=cso_id, csp_id=csp_id).order_by("-valid_from").first()


def agreements_of(*, partner_id: int) -> QuerySet[RoamingAgreement]:
    """Every agreement a partner is a party to, on either side."""
    return (
        RoamingAgreement.objects.filter(Q(cso_id=partner_id) | Q(csp_id=partner_id))
        .select_related("cso", "csp")
        .order_by("id")
    )


def directory_for(*, partner_id: int) -> list[dict]:
    """Partners I have an agreement in force with, with the agreements and, in mixed mode, their
    direct endpoints (mixed mode: remote start/stop goes directly between the partners)."""
    agreements = list(
        active_agreements().filter(Q(cso_id=partner_id) | Q(csp_id=partner_id)).select_related("cso", "csp")
    )
    counterparts: dict[int, dict] = {}
    mixed_ids: set[int] = set()
    for agreement in agreements:
        other = agreement.csp if agreement.cso_id == partner_id else agreement.cso
        my_role = "CSO" if agreement.cso_id == partner_id else "CSP"
        entry = counterparts.setdefault(other.pk, {"partner": other, "agreements": [], "endpoints": []})
        entry["agreements"].append({"agreement": agreement, "my_role": my_role})
        if agreement.mode == RoamingAgreement.Mode.MIXED:
            mixed_ids.add(other.pk)
    if mixed_ids:
        for endpoint in RoamingEndpoint.objects.filter(partner_id__in=mixed_ids, active=True).order_by("id"):
            counterparts[endpoint.partner_id]["endpoints"].append(endpoint)
    return sorted(counterparts.values(), key=lambda e: (e["partner"].name, e["partner"].pk))


def endpoint_for(*, partner_id: int, role: str) -> RoamingEndpoint | None:
    """The active i3 endpoint where the hub delivers to a partner in one role."""
    return (
        RoamingEndpoint.objects.filter(partner_id=partner_id, role=role, protocol="i3", active=True)
        .order_by("id")
        .first()
    )


def signing_user_of(*, partner_id: int) -> PartnerUser | None:
    """The API user whose secret signs the hub's deliveries to a partner: its oldest active one."""
    return (
        PartnerUser.objects.select_related("user")
        .filter(partner_id=partner_id, user__is_active=True)
        .order_by("id")
        .first()
    )
