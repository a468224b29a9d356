"""Partner registry services: every rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from clearinghouse.api.principal import principal_get
from clearinghouse.errors import ConflictError, InvalidInput, InvalidTransition
from clearinghouse.models import AuditEntry
from partners import selectors, services
from partners.models import Partner, PartnerUser, RoamingAgreement

pytestmark = pytest.mark.django_db


def make(**kw) -> Partner:
    base = {"name": "P", "country_code": "DE", "party_id": "ABC", "roles": ["CSO"]}
    base.update(kw)
    return services.partner_create(**base)


def test_create_normalises_identifiers_and_starts_pending():
    p = make(country_code="de", party_id="ab1", roles=["cso", "CSP"])
    assert (p.country_code, p.party_id, p.status) == ("DE", "AB1", "PENDING")
    assert p.operator_id == "DE*AB1" and p.provider_id == "DE-AB1"
    assert p.roles == ["CSO", "CSP"]
    assert AuditEntry.objects.filter(action="partner.create", object_id=str(p.pk)).exists()


@pytest.mark.parametrize(
    "kw,code",
    [
        ({"country_code": "XX"}, "invalid_country_code"),
        ({"country_code": "DEU"}, "invalid_country_code"),
        ({"party_id": "AB"}, "invalid_party_id"),
        ({"party_id": "AB-"}, "invalid_party_id"),
        ({"roles": []}, "invalid_roles"),
        ({"roles": ["EMSP"]}, "invalid_roles"),
        ({"settlement_currency": "EURO"}, "invalid_currency"),
        ({"contact_email": "not-an-email"}, "invalid_email"),
        ({"name": "  "}, "invalid_name"),
    ],
)
def test_create_refuses_bad_input(kw, code):
    with pytest.raises(InvalidInput) as err:
        make(**kw)
    assert err.value.code == code
    assert not Partner.objects.exists()


def test_party_is_unique():
    make()
    with pytest.raises(ConflictError):
        make(name="Other", roles=["CSP"])


@pytest.mark.parametrize(
    "path,final",
    [
        (["approve"], "ACTIVE"),
        (["approve", "suspend"], "SUSPENDED"),
        (["approve", "suspend", "reactivate"], "ACTIVE"),
        (["approve", "suspend", "terminate"], "TERMINATED"),
        (["approve", "terminate"], "TERMINATED"),
        (["terminate"], "TERMINATED"),
    ],
)
def test_allowed_transitions(path, final):
    p = make()
    for action in path:
        p = services.partner_transition(partner=p, action=action)
    assert p.status == final


@pytest.mark.parametrize(
    "path,refused",
    [
        ([], "suspend"),
        ([], "reactivate"),
        (["approve"], "approve"),
        (["approve"], "reactivate"),
        (["approve", "terminate"], "reactivate"),
        (["approve", "terminate"], "approve"),
        (["approve", "terminate"], "terminate"),
    ],
)
def test_refused_transitions(path, refused):
    p = make()
    for action in path:
        p = services.partner_transition(partner=p, action=action)
    with pytest.raises(InvalidTransition):
        services.partner_transition(partner=p, action=refused)


def test_transition_invalidates_cached_principal():
    p = services.partner_approve(partner=make())
    issued = services.partner_user_issue(partner=p)
    pu = PartnerUser.objects.get(user__username=issued.username)
    assert principal_get(user_id=pu.user_id).usable
    services.partner_suspend(partner=p)
    assert not principal_get(user_id=pu.user_id).usable


def test_issue_credentials_stores_no_secret_in_clear():
    p = services.partner_approve(partner=make())
    issued = services.partner_user_issue(partner=p, username="alpha-api", password="a-long-password-1")
    pu = PartnerUser.objects.get(user__username="alpha-api")
    assert issued.hmac_secret not in pu.hmac_secret_encrypted
    assert pu.user.password != "a-long-password-1"
    assert pu.user.check_password("a-long-password-1")
    assert principal_get(user_id=pu.user_id).secret() == issued.hmac_secret


def test_issue_refuses_taken_username_weak_password_and_terminated_partner():
    p = services.partner_approve(partner=make())
    services.partner_user_issue(partner=p, username="taken-name")
    with pytest.raises(ConflictError):
        services.partner_user_issue(partner=p, username="taken-name")
    with pytest.raises(InvalidInput):
        services.partner_user_issue(partner=p, password="short")
    services.partner_terminate(partner=p)
    with pytest.raises(InvalidTransition):
        services.partner_user_issue(partner=p)


def test_rotate_secret_replaces_it():
    p = services.partner_approve(partner=make())
    issued = services.partner_user_issue(partner=p)
    pu = PartnerUser.objects.get(user__username=issued.username)
    new = services.partner_user_rotate_secret(partner_user=pu)
    assert new != issued.hmac_secret
    assert principal_get(user_id=pu.user_id).secret() == new


def _pair():
    cso = services.partner_approve(partner=make(name="C", party_id="CSO"))
    csp = services.partner_approve(partner=make(name="P", party_id="CSP", roles=["CSP"]))
    return cso, csp


def test_agreement_between_cso_and_csp():
    cso, csp = _pair()
    a = services.agreement_create(cso=cso, csp=csp, mode="MIXED", authorization_subtype="HUB_ISSUED")
    assert a.status == "ACTIVE" and a.valid_until is None
    assert selectors.agreement_active_between(cso_id=cso.pk, csp_id=csp.pk) == a


def test_agreement_needs_the_right_roles_and_two_partners():
    cso, csp = _pair()
    with pytest.raises(InvalidInput):
        services.agreement_create(cso=csp, csp=cso)
    both = services.partner_approve(partner=make(name="B", party_id="BTH", roles=["CSO", "CSP"]))
    with pytest.raises(InvalidInput) as err:
        services.agreement_create(cso=both, csp=both)
    assert err.value.code == "same_partner"


def test_agreement_refuses_bad_mode_validity_and_terminated_partners():
    cso, csp = _pair()
    with pytest.raises(InvalidInput):
        services.agreement_create(cso=cso, csp=csp, mode="DIRECT")
    with pytest.raises(InvalidInput):
        services.agreement_create(cso=cso, csp=csp, authorization_subtype="ANY")
    now = timezone.now()
    with pytest.raises(InvalidInput):
        services.agreement_create(cso=cso, csp=csp, valid_from=now, valid_until=now - timedelta(days=1))
    services.partner_terminate(partner=csp)
    with pytest.raises(InvalidInput):
        services.agreement_create(cso=cso, csp=csp)


def test_at_most_one_active_agreement_per_pair_and_period():
    cso, csp = _pair()
    now = timezone.now()
    services.agreement_create(cso=cso, csp=csp, valid_from=now, valid_until=now + timedelta(days=30))
    with pytest.raises(ConflictError):
        services.agreement_create(cso=cso, csp=csp, valid_from=now + timedelta(days=10))
    with pytest.raises(ConflictError):
        services.agreement_create(
            cso=cso, csp=csp, valid_from=now - timedelta(days=10), valid_until=now + timedelta(days=1)
        )
    # Back to back is fine.
    services.agreement_create(cso=cso, csp=csp, valid_from=now + timedelta(days=30))
    assert RoamingAgreement.objects.count() == 2


def test_agreement_status_changes():
    cso, csp = _pair()
    a = services.agreement_create(cso=cso, csp=csp)
    a = services.agreement_set_status(agreement=a, status="SUSPENDED")
    assert selectors.agreement_active_between(cso_id=cso.pk, csp_id=csp.pk) is None
    a = services.agreement_set_status(agreement=a, status="ACTIVE")
    a = services.agreement_set_status(agreement=a, status="TERMINATED")
    with pytest.raises(InvalidTransition):
        services.agreement_set_status(agreement=a, status="ACTIVE")
    with pytest.raises(InvalidInput):
        services.agreement_set_status(agreement=a, status="BOGUS")


def test_reactivating_an_agreement_refuses_an_overlap():
    cso, csp = _pair()
    a = services.agreement_create(cso=cso, csp=csp)
    services.agreement_set_status(agreement=a, status="SUSPENDED")
    services.agreement_create(cso=cso, csp=csp)
    with pytest.raises(ConflictError):
        services.agreement_set_status(agreement=a, status="ACTIVE")


def test_agreement_in_force_only_inside_its_validity():
    cso, csp = _pair()
    now = timezone.now()
    services.agreement_create(cso=cso, csp=csp, valid_from=now + timedelta(days=1))
    assert selectors.agreement_active_between(cso_id=cso.pk, csp_id=csp.pk) is None
    assert selectors.agreement_active_between(cso_id=cso.pk, csp_id=csp.pk, at=now + timedelta(days=2))


def test_onboard_is_all_or_nothing():
    get_user_model().objects.create_user("taken", password="x" * 12)
    with pytest.raises(ConflictError):
        services.partner_onboard(name="N", country_code="DE", party_id="NEW", roles=["CSO"], username="taken")
    assert not Partner.objects.filter(party_id="NEW").exists()


def test_onboard_registers_an_endpoint_per_role():
    partner, _ = services.partner_onboard(
        name="N", country_code="DE", party_id="NEW", roles=["CSO", "CSP"], endpoint_url="https://n.example/i3"
    )
    assert sorted(partner.endpoints.values_list("role", flat=True)) == ["CSO", "CSP"]
    assert partner.status == "ACTIVE"


def test_terminating_closes_the_validity_and_keeps_history():
    cso, csp = _pair()
    start = timezone.now() - timedelta(days=5)
    a = services.agreement_create(cso=cso, csp=csp, valid_from=start)
    a = services.agreement_set_status(agreement=a, status="TERMINATED")
    assert a.valid_until is not None and a.valid_until <= timezone.now()
    assert selectors.agreement_active_between(cso_id=cso.pk, csp_id=csp.pk) is None
    assert selectors.agreement_in_force_at(cso_id=cso.pk, csp_id=csp.pk, at=start + timedelta(days=1)) == a
    assert selectors.agreement_in_force_at(cso_id=cso.pk, csp_id=csp.pk, at=timezone.now()) is None
    # A new agreement may start after the terminated one.
    services.agreement_create(cso=cso, csp=csp)
