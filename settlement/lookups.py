"""Every read the SDR intake makes of the apps below settlement, in one place, one query per batch.

Intake checks up to 500 SDRs per request against EVSEs and tariffs (locations), contracts and
authorizations (credentials) and agreements (partners). The single-item selectors those apps
expose (`locations.selectors.evse_get_for_cso`, `credentials.selectors.credential_owner`,
`credentials.selectors.authorization_by_reference`, ...) would cost a query or two per SDR, so
each function here reads a whole batch at once, through the batch selectors those apps offer
(`credentials.selectors.credential_owners`, `authorizations_by_reference`,
`sessions.selectors.session_facts_for`), and returns the framework-free values of
`settlement.validation.context`. Where an app offers no batch selector yet (EVSEs and tariffs of
`locations`, agreements and endpoints of `partners`), the function reads its models, read-only,
and says so: those are the places to switch to a batch selector when one exists. Nothing else in
settlement imports these apps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Q

from credentials.selectors import authorizations_by_reference as credential_authorizations
from credentials.selectors import credential_owners
from locations.models import EVSE, Tariff, TariffTarget
from locations.status_sql import values_in
from partners.models import Partner, RoamingAgreement, RoamingEndpoint
from sessions.selectors import session_facts_for

from .validation.context import (
    AgreementInfo,
    AuthorizationInfo,
    ConnectorInfo,
    EvseInfo,
    SessionInfo,
    TariffInfo,
)
from .validation.schema import contract_provider

_KW = Decimal(1000)


def evses_for_cso(*, cso_id: int, evse_ids: Iterable[str]) -> dict[str, EvseInfo]:
    """The CSO's EVSEs among `evse_ids` (canonical EVSE IDs), with their location's time zone and
    their connectors' power and tariff ids. One query: a row per connector, or one for an EVSE
    without any.

    Batch form of `locations.selectors.evse_get_for_cso` (same columns: `Location.time_zone`,
    `Connector.power_w`, `Connector.tariff_ids`); reads `locations.models` read-only. The EVSE IDs
    travel as one parameter (`locations.status_sql.values_in`): a batch names some 400, which the
    ORM would otherwise prepare and the driver quote one by one.
    """
    wanted = set(evse_ids)
    if not wanted:
        return {}
    rows = (
        EVSE.objects.filter(cso_id=cso_id, evse_id__in=values_in(sorted(wanted)))
        .order_by()
        .values_list(
            "evse_id",
            "location__time_zone",
            "connectors__connector_id",
            "connectors__power_w",
            "connectors__tariff_ids",
        )
    )
    zones: dict[str, str] = {}
    connectors: dict[str, dict[str, ConnectorInfo]] = defaultdict(dict)
    for evse_id, time_zone, connector_id, power_w, tariff_ids in rows:
        zones[evse_id] = time_zone
        if connector_id is not None:
            connectors[evse_id][connector_id] = ConnectorInfo(
                connector_id=connector_id,
                max_power_kw=None if power_w is None else Decimal(power_w) / _KW,
                tariff_ids=tuple(str(t) for t in tariff_ids or ()),
            )
    return {
        evse_id: EvseInfo(
            evse_id=evse_id, time_zone=time_zone or "UTC", connectors=connectors.get(evse_id, {})
        )
        for evse_id, time_zone in zones.items()
    }


def tariffs_of_cso(*, cso_id: int, tariff_ids: Iterable[str]) -> dict[str, TariffInfo]:
    """The CSO's published tariffs among `tariff_ids`, each with the CSPs it targets (none: public).
    Two queries.

    Batch form of `locations.selectors.tariffs_for`: the rules that function applies per CSP (the
    pinned tariff wins; tariffs targeted at the CSP replace the public ones) are applied per SDR in
    `settlement.validation.rules.select_tariffs`, and validity per charging period by the rating
    engine. Reads `locations.models.Tariff` and `TariffTarget` read-only.
    """
    wanted = {t for t in tariff_ids if t}
    if not wanted:
        return {}
    rows = list(
        Tariff.objects.filter(cso_id=cso_id, tariff_id__any_of=wanted).values_list(
            "pk", "tariff_id", "currency", "is_public", "document"
        )
    )
    private = [pk for pk, _, _, is_public, _ in rows if not is_public]
    targets: dict[int, set[int]] = defaultdict(set)
    if private:
        for tariff_pk, csp_id in TariffTarget.objects.filter(tariff_id__in=private).values_list(
            "tariff_id", "csp_id"
        ):
            targets[tariff_pk].add(csp_id)
    return {
        tariff_id: TariffInfo(
            tariff_id=tariff_id,
            currency=currency,
            document=document,
            # A targeted tariff whose targets are all gone applies to no one: an impossible id.
            target_csp_ids=frozenset() if is_public else frozenset(targets.get(pk) or {-1}),
        )
        for pk, tariff_id, currency, is_public, document in rows
    }


def contract_owners(*, contract_ids: Iterable[str]) -> dict[str, int]:
    """The CSP owning each contract (normalised contract IDs): the CSP of its credentials, else the
    CSP the hub issued it for (`credentials.selectors.credential_owners`, two queries at most),
    else the CSP whose provider ID the contract ID carries (one more query: the batch form of
    `partners.selectors.partner_by_provider_id`)."""
    wanted = set(contract_ids)
    if not wanted:
        return {}
    owners = {
        contract_id: owner.csp_id for contract_id, owner in credential_owners(contract_ids=wanted).items()
    }
    providers: dict[tuple[str, str], list[str]] = defaultdict(list)
    for contract_id in wanted - owners.keys():
        provider = contract_provider(contract_id)
        if provider is not None:
            providers[provider].append(contract_id)
    if providers:
        match = Q()
        for country, party in providers:
            match |= Q(country_code=country, party_id=party)
        for pk, country, party in Partner.objects.filter(match, is_csp=True).values_list(
            "pk", "country_code", "party_id"
        ):
            for contract_id in providers[(country, party)]:
                owners[contract_id] = pk
    return owners


def agreements_between(*, cso_id: int, csp_ids: Iterable[int]) -> dict[int, list[AgreementInfo]]:
    """The CSO's active agreements with each CSP among `csp_ids` (both partners active), with their
    validity, for checking which one was in force at a session's start. One query.

    Batch form of `partners.selectors.agreement_active_between` for many CSPs and moments.
    """
    wanted = set(csp_ids)
    found: dict[int, list[AgreementInfo]] = defaultdict(list)
    if not wanted:
        return found
    rows = RoamingAgreement.objects.filter(
        cso_id=cso_id,
        csp_id__in=wanted,
        status=RoamingAgreement.Status.ACTIVE,
        cso__status=Partner.Status.ACTIVE,
        csp__status=Partner.Status.ACTIVE,
    ).values_list("csp_id", "valid_from", "valid_until", "pinned_tariff_id")
    for csp_id, valid_from, valid_until, pinned in rows:
        found[csp_id].append(AgreementInfo(csp_id, valid_from, valid_until, pinned or ""))
    return found


def authorizations_by_reference(*, cso_id: int, references: Iterable[str]) -> dict[str, AuthorizationInfo]:
    """The CSO's start authorizations among `references`. One query:
    `credentials.selectors.authorizations_by_reference`."""
    wanted = {r for r in references if r}
    if not wanted:
        return {}
    return {
        reference: AuthorizationInfo(reference, record.csp_id, record.contract_id or "", record.status)
        for reference, record in credential_authorizations(cso_id=cso_id, references=wanted).items()
    }


def partner_labels(*, partner_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(operator ID, provider ID) of each partner, as SDRs name their CSO and CSP. One query."""
    wanted = set(partner_ids)
    if not wanted:
        return {}
    return {
        pk: (f"{country}*{party}", f"{country}-{party}")
        for pk, country, party in Partner.objects.filter(pk__in=wanted).values_list(
            "pk", "country_code", "party_id"
        )
    }


def csps_with_endpoint(*, csp_ids: Iterable[int]) -> set[int]:
    """The CSPs among `csp_ids` that are active and have an active i3 endpoint for the CSP role, so
    the hub pushes their SDRs; the others pull. One query.

    Batch form of `partners.selectors.endpoint_for(partner_id=..., role="CSP")`.
    """
    wanted = set(csp_ids)
    if not wanted:
        return set()
    return set(
        RoamingEndpoint.objects.filter(
            partner_id__in=wanted,
            partner__status=Partner.Status.ACTIVE,
            role=RoamingEndpoint.Role.CSP,
            protocol="i3",
            active=True,
        ).values_list("partner_id", flat=True)
    )


def sessions_of_cso(*, cso_id: int, session_ids: Iterable[str]) -> dict[str, SessionInfo]:
    """The charging sessions the CSO reported among `session_ids`, with their contract and EVSE.
    One query: `sessions.selectors.session_facts_for`."""
    wanted = {s for s in session_ids if s}
    if not wanted:
        return {}
    return {
        session_id: SessionInfo(session_id, facts.contract_id, facts.evse_id)
        for session_id, facts in session_facts_for(cso_id=cso_id, session_ids=wanted).items()
    }
