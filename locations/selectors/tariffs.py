"""Reading tariffs: which apply to a CSP, the documents served, and dangling references."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from clearinghouse.errors import ConflictError, NotFoundError
from partners.selectors import active_agreements, agreement_active_between

from ..models import ConnectorTariff, Tariff, TariffTarget
from .common import Viewer


def _targeted_at(csp_id: int) -> Exists:
    return Exists(TariffTarget.objects.filter(tariff=OuterRef("pk"), csp_id=csp_id))


def tariffs_visible(*, viewer: Viewer, at: datetime | None = None) -> QuerySet[Tariff]:
    """Tariffs a partner may read: its own (as CSO); as CSP, of each CSO it has an agreement in
    force with, the public tariffs, those targeted at it, and the tariff the agreement pins."""
    q = Q(pk__in=[])
    if viewer.is_cso:
        q |= Q(cso_id=viewer.partner_id)
    if viewer.is_csp:
        agreements = list(
            active_agreements(at=at)
            .filter(csp_id=viewer.partner_id)
            .values_list("cso_id", "pinned_tariff_id")
        )
        cso_ids = {cso_id for cso_id, _ in agreements}
        q |= Q(cso_id__in=cso_ids) & (Q(is_public=True) | _targeted_at(viewer.partner_id))
        for cso_id, pinned in agreements:
            if pinned:
                q |= Q(cso_id=cso_id, tariff_id=pinned)
    return Tariff.objects.filter(q)


def tariffs_render(tariffs: list[Tariff], *, viewer: Viewer) -> list[dict[str, Any]]:
    """The OCPI documents; the owner also sees its `target_provider_ids`, no one else does."""
    own_ids = [t.pk for t in tariffs if t.cso_id == viewer.partner_id and not t.is_public]
    targets: dict[int, list[str]] = {}
    if own_ids:
        rows = (
            TariffTarget.objects.filter(tariff_id__in=own_ids)
            .order_by("csp__country_code", "csp__party_id")
            .values_list("tariff_id", "csp__country_code", "csp__party_id")
        )
        for tariff_pk, country, party in rows:
            targets.setdefault(tariff_pk, []).append(f"{country}-{party}")
    return [
        {**t.document, "target_provider_ids": targets[t.pk]} if t.pk in targets else t.document
        for t in tariffs
    ]


def tariff_get(*, viewer: Viewer, tariff_id: str, operator: tuple[str, str] | None = None) -> Tariff:
    """One tariff the viewer may read; `operator` chooses when two CSOs use the same id."""
    rows = tariffs_visible(viewer=viewer).filter(tariff_id=tariff_id).select_related("cso")
    if operator is not None:
        rows = rows.filter(cso__country_code=operator[0], cso__party_id=operator[1])
    found = list(rows[:10])
    if not found:
        raise NotFoundError("tariff_not_found", "No tariff with this id is visible to you.")
    if len(found) > 1:
        own = [t for t in found if t.cso_id == viewer.partner_id]
        if len(own) == 1:
            return own[0]
        raise ConflictError(
            "ambiguous_tariff_id",
            "Several operators publish a tariff with this id; add ?operator= to choose.",
            {"operators": sorted(t.cso.operator_id for t in found)},
        )
    return found[0]


def tariffs_for(
    *, cso_id: int, csp_id: int, tariff_ids: list[str] | None = None, at: datetime | None = None
) -> list[dict[str, Any]]:
    """The OCPI Tariff documents of a CSO that apply to a CSP at a moment (default: now).

    - No agreement in force between them at `at`: nothing applies ([]).
    - The agreement pins a tariff the CSO has published: that one alone applies, whatever
      `tariff_ids` name (the bilateral price wins).
    - Otherwise, among `tariff_ids` (a connector's list; all of the CSO's tariffs when None), the
      ones valid at `at` (start_date_time <= at < end_date_time): those targeted at the CSP if
      there are any, else the public ones. Ordered as `tariff_ids`, else by tariff id.
    """
    at = at or timezone.now()
    agreement = agreement_active_between(cso_id=cso_id, csp_id=csp_id, at=at)
    if agreement is None:
        return []
    own = Tariff.objects.filter(cso_id=cso_id)
    if agreement.pinned_tariff_id:
        pinned = own.filter(tariff_id=agreement.pinned_tariff_id).first()
        if pinned is not None:
            return [pinned.document]
    rows = own.filter(Q(is_public=True) | _targeted_at(csp_id)).filter(
        Q(start_date_time__isnull=True) | Q(start_date_time__lte=at),
        Q(end_date_time__isnull=True) | Q(end_date_time__gt=at),
    )
    if tariff_ids is not None:
        rows = rows.filter(tariff_id__in=tariff_ids)
    found = list(rows)
    targeted = [t for t in found if not t.is_public]
    chosen = targeted or found
    order = {tariff_id: i for i, tariff_id in enumerate(tariff_ids or [])}
    chosen.sort(key=lambda t: (order.get(t.tariff_id, len(order)), t.tariff_id))
    return [t.document for t in chosen]


def tariff_references_dangling(*, cso_id: int | None = None) -> QuerySet[ConnectorTariff]:
    """Connector references to tariff ids their CSO has not published (yet, or any more).

    They resolve by themselves: the reference stops dangling when the tariff is PUT.
    """
    published = Tariff.objects.filter(cso_id=OuterRef("cso_id"), tariff_id=OuterRef("tariff_id"))
    rows = ConnectorTariff.objects.filter(~Exists(published))
    if cso_id is not None:
        rows = rows.filter(cso_id=cso_id)
    return rows.select_related("connector__evse__location")
