"""Prepared queries and inserts (clearinghouse.db): the same rows and values as the ORM gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef

from clearinghouse.db import PreparedInsert, PreparedQuery
from partners.models import Partner, RoamingAgreement

pytestmark = pytest.mark.django_db


def _partners(party: str, since: datetime):
    return (
        Partner.objects.filter(party_id=party, created_at__gte=since)
        .annotate(agreed=Exists(RoamingAgreement.objects.filter(cso_id=OuterRef("pk"))))
        .values("pk", "name", "is_cso", "created_at", "agreed")
        .order_by()[:1]
    )


QUERY = PreparedQuery(lambda party, since: _partners(party, since), party=str, since=datetime)


def test_a_prepared_query_answers_like_the_orm(cso, csp):
    since = datetime(2000, 1, 1, tzinfo=UTC)
    for party in ("ACH", "BMO"):
        expected = next(iter(_partners(party, since)), None)
        got = QUERY.first(party=party, since=since)
        assert got == expected
        assert isinstance(got["agreed"], bool) and isinstance(got["created_at"], datetime)
        assert got["created_at"].tzinfo is not None
    # New values each call: nothing of the previous call sticks.
    assert QUERY.first(party="ACH", since=datetime.now(UTC) + timedelta(days=1)) is None
    assert QUERY.first(party="ZZZ", since=since) is None


def test_a_parameter_that_does_not_reach_the_sql_is_refused(db):
    unused = PreparedQuery(
        lambda party, since: Partner.objects.filter(party_id=party).values("pk"), party=str, since=datetime
    )
    with pytest.raises(RuntimeError, match="since"):
        unused.first(party="ACH", since=datetime.now(UTC))
    with pytest.raises(TypeError):
        PreparedQuery(lambda x: Partner.objects.values("pk"), x=float)


def test_a_prepared_insert_stores_what_save_would(db):
    insert = PreparedInsert(Partner)
    pk = insert.insert(name="Delta Charge", country_code="BE", party_id="DCH", is_cso=True)
    stored = Partner.objects.get(pk=pk)
    assert (stored.name, stored.country_code, stored.party_id, stored.is_cso, stored.is_csp) == (
        "Delta Charge", "BE", "DCH", True, False,
    )  # fmt: skip
    # Defaults and pre_save (auto_now_add) applied as by Model.save().
    assert stored.status == Partner.Status.PENDING and stored.settlement_currency == "EUR"
    assert stored.created_at is not None and stored.updated_at is not None
    other = insert.insert(name="Epsilon", country_code="BE", party_id="EPS", is_csp=True)
    assert other != pk and Partner.objects.get(pk=other).name == "Epsilon"


def test_bulk_insert_stores_what_bulk_create_would(cso, csp):
    from django.db import IntegrityError, transaction

    from clearinghouse.db import bulk_insert
    from credentials.models import AuthorizationRecord

    now = datetime.now(UTC).replace(microsecond=0)
    records = [
        AuthorizationRecord(
            cso_id=cso.partner.pk,
            csp_id=csp.partner.pk if i % 2 else None,
            evse_id=f"DE*ACH*E{i}*1",
            credential_type="RFID",
            status="ACCEPTED",
            decided_by="HUB",
            decided_at=now,
            authorization_reference=f"ref-{i:04d}",
            latency_ms=i,
            created_at=now - timedelta(minutes=i),
            routed_to=[csp.partner.pk, i],
        )
        for i in range(5)
    ]
    bulk_insert(records)
    assert all(r.pk is not None and not r._state.adding for r in records)
    for record in records:
        stored = AuthorizationRecord.objects.get(pk=record.pk)
        assert (stored.evse_id, stored.csp_id, stored.latency_ms, stored.created_at, stored.routed_to) == (
            record.evse_id, record.csp_id, record.latency_ms, record.created_at, record.routed_to,
        )  # fmt: skip
        assert stored.kind == "START"  # the field's default
    # Values of another type than the column's are prepared as save() prepares them.
    partners = [
        Partner(name="Zeta", country_code="BE", party_id="ZET", is_cso=True, settlement_currency="EUR")
    ]
    bulk_insert(partners)
    assert Partner.objects.get(pk=partners[0].pk).created_at is not None  # auto_now_add applied
    # A unique violation fails the whole batch and stores none of it.
    clash = [
        AuthorizationRecord(cso_id=cso.partner.pk, evse_id="X", credential_type="RFID", status="ACCEPTED",
                            decided_by="HUB", decided_at=now, authorization_reference=ref, created_at=now)
        for ref in ("new-ref-1", "ref-0000")
    ]  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert(clash)
    assert not AuthorizationRecord.objects.filter(authorization_reference="new-ref-1").exists()


def test_bulk_insert_values_applies_defaults_and_refuses_what_it_cannot_prepare(cso):
    from clearinghouse.db import bulk_insert_values
    from credentials.models import AuthorizationRecord

    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        {
            "cso_id": cso.partner.pk,
            "evse_id": f"DE*ACH*E{i}*1",
            "credential_type": "RFID",
            "status": "UNKNOWN",
            "decided_by": "HUB",
            "decided_at": now,
            "authorization_reference": f"values-{i}",
            "created_at": now,
            "latency_ms": "7",  # not an int: prepared as save() would
        }
        for i in range(3)
    ]
    bulk_insert_values(AuthorizationRecord, rows)
    stored = AuthorizationRecord.objects.filter(authorization_reference__startswith="values-").order_by("pk")
    assert [r.evse_id for r in stored] == ["DE*ACH*E0*1", "DE*ACH*E1*1", "DE*ACH*E2*1"]
    assert [(r.kind, r.routed_to, r.latency_ms, r.created_at) for r in stored] == [("START", [], 7, now)] * 3
    with pytest.raises(TypeError, match="no_such_field"):
        bulk_insert_values(AuthorizationRecord, [{**rows[0], "no_such_field": 1}])
    if connection.vendor == "postgresql":
        with pytest.raises(ValueError, match="pre_save"):
            bulk_insert_values(
                Partner, [{"name": "Eta", "country_code": "BE", "party_id": "ETA", "is_cso": True}]
            )


def test_a_prepared_insert_without_pre_save_fields_prepares_values_and_refuses_unknown_names(cso):
    from credentials.models import AuthorizationRecord

    insert = PreparedInsert(AuthorizationRecord)
    now = datetime.now(UTC).replace(microsecond=0)
    common = dict(cso_id=cso.partner.pk, evse_id="DE*ACH*E1*1", credential_type="RFID", status="ACCEPTED",
                  decided_by="HUB", decided_at=now, created_at=now)  # fmt: skip
    # A value of another type than the column's (a str for an integer) is prepared as save() would.
    pk = insert.insert(**common, authorization_reference="prepared-1", latency_ms="7", routed_to=[3])
    stored = AuthorizationRecord.objects.get(pk=pk)
    assert (stored.latency_ms, stored.routed_to, stored.kind) == (7, [3], "START")
    with pytest.raises(TypeError, match="colour"):
        insert.insert(**common, authorization_reference="prepared-2", colour="red")
    assert not AuthorizationRecord.objects.filter(authorization_reference="prepared-2").exists()


def test_an_instance_builder_builds_what_the_constructor_would(cso):
    from clearinghouse.db import InstanceBuilder
    from credentials.models import AuthorizationRecord

    now = datetime.now(UTC)
    values = {
        "cso_id": cso.partner.pk,
        "evse_id": "DE*ACH*E1*1",
        "credential_type": "RFID",
        "status": "ACCEPTED",
        "decided_by": "HUB",
        "decided_at": now,
        "authorization_reference": "built-1",
        "created_at": now,
    }
    build = InstanceBuilder(AuthorizationRecord)
    built, expected = build(values), AuthorizationRecord(**values)
    fields = [f.attname for f in AuthorizationRecord._meta.concrete_fields]
    assert built._state.adding and built.pk is None
    assert {a: getattr(built, a) for a in fields} == {a: getattr(expected, a) for a in fields}
    # Mutable and callable defaults are fresh for each instance.
    assert build(values).routed_to is not built.routed_to
    del values["created_at"]
    assert build(values).created_at >= now
    # Receivers of pre_init and post_init still run: the constructor builds those instances.
    from django.db.models.signals import post_init

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=AuthorizationRecord)
    try:
        with_receiver = build(values)
    finally:
        post_init.disconnect(receiver, sender=AuthorizationRecord)
    assert seen == [with_receiver] and with_receiver.evse_id == "DE*ACH*E1*1"
    built.save()
    assert AuthorizationRecord.objects.get(pk=built.pk).authorization_reference == "built-1"
    with pytest.raises(TypeError, match="no_such_field"):
        build({**values, "no_such_field": 1})


def test_bulk_insert_sends_json_text_the_caller_encoded_already(cso):
    import json

    from clearinghouse.db import bulk_insert
    from credentials.models import AuthorizationRecord

    now = datetime.now(UTC).replace(microsecond=0)
    records = [
        AuthorizationRecord(
            cso_id=cso.partner.pk, evse_id="X", credential_type="RFID", status="ACCEPTED",
            decided_by="HUB", decided_at=now, authorization_reference=f"doc-{i}", created_at=now,
            routed_to=[i, "ü\\t\n"],
        )
        for i in range(3)
    ]  # fmt: skip
    texts = [json.dumps(r.routed_to, ensure_ascii=False, separators=(",", ":")) for r in records]
    bulk_insert(records, documents={"routed_to": [texts[0], None, texts[2]]})
    stored = AuthorizationRecord.objects.filter(authorization_reference__startswith="doc-").order_by("pk")
    assert [r.routed_to for r in stored] == [[0, "ü\\t\n"], [1, "ü\\t\n"], [2, "ü\\t\n"]]
    if connection.vendor == "postgresql":
        with pytest.raises(ValueError, match="not a JSON field"):
            bulk_insert(records[:1], documents={"evse_id": ['"X"']})
        with pytest.raises(ValueError, match="2 documents for 1 objects"):
            bulk_insert(records[:1], documents={"routed_to": ["[]", "[]"]})


def test_any_of_finds_what_in_finds(cso, csp):
    from django.db.models import F
    from django.test.utils import CaptureQueriesContext

    pks = [cso.partner.pk, csp.partner.pk]
    names = [cso.partner.name, "nobody", None]
    assert sorted(Partner.objects.filter(pk__any_of=pks).values_list("pk", flat=True)) == sorted(pks)
    assert list(Partner.objects.filter(name__any_of=names).values_list("pk", flat=True)) == [cso.partner.pk]
    assert list(Partner.objects.filter(name__any_of=[])) == []
    assert list(Partner.objects.filter(name__any_of=[None])) == []
    # A subquery or an expression among the values: IN, as __in writes it.
    subquery = Partner.objects.filter(pk=csp.partner.pk).values("pk")
    assert list(Partner.objects.filter(pk__any_of=subquery).values_list("pk", flat=True)) == [csp.partner.pk]
    assert Partner.objects.filter(pk__any_of=[F("pk")]).count() == Partner.objects.count()
    with CaptureQueriesContext(connection) as queries:
        list(Partner.objects.filter(pk__any_of=pks))
    if connection.vendor == "postgresql":
        assert "= ANY(" in queries[0]["sql"]


def test_bulk_insert_encodes_json_with_the_fields_encoder_as_save_does(cso):
    from decimal import Decimal

    from clearinghouse.db import bulk_insert, bulk_insert_values
    from clearinghouse.routing.models import DeliveryChannel, OutboxMessage
    from credentials.models import AuthorizationRecord

    channel = DeliveryChannel.objects.create(partner=cso.partner, role="CSO")
    payload = {"amount": Decimal("1.50"), "at": datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC), "n": [1]}

    def message(**extra):
        return OutboxMessage(
            channel=channel, partner=cso.partner, role="CSO", event_type="test", path="x",
            max_attempts=1, next_attempt_at=datetime.now(UTC), **extra,
        )  # fmt: skip

    saved = message(payload=payload)
    saved.save()
    copied = [message(payload=payload), message(payload=[payload]), message(payload="text")]
    bulk_insert(copied)
    stored = OutboxMessage.objects.get(pk=saved.pk).payload
    assert stored == {"amount": "1.50", "at": "2026-01-02T03:04:05.600Z", "n": [1]}
    assert OutboxMessage.objects.get(pk=copied[0].pk).payload == stored
    assert OutboxMessage.objects.get(pk=copied[1].pk).payload == [stored]
    assert OutboxMessage.objects.get(pk=copied[2].pk).payload == "text"
    now = datetime.now(UTC)
    bulk_insert_values(AuthorizationRecord, [
        {"cso_id": cso.partner.pk, "evse_id": "X", "credential_type": "RFID", "status": "UNKNOWN",
         "decided_by": "HUB", "decided_at": now, "authorization_reference": "json-1", "created_at": now,
         "routed_to": [{"a": "ü"}, 2]},
    ])  # fmt: skip
    assert AuthorizationRecord.objects.get(authorization_reference="json-1").routed_to == [{"a": "ü"}, 2]


def test_constants_are_written_into_the_sql_and_the_values_stay_parameters():
    from clearinghouse.db import _constants_inlined

    stamp = datetime(2026, 1, 2, tzinfo=UTC)
    sql = (
        "SELECT %s AS a, x LIKE '50%%' FROM t"
        " WHERE s = %s AND v = %s AND n = %s AND q = %s AND b = %s AND d > %s"
    )
    params = [1, Partner.Status.ACTIVE, "marker", 42, "it's", True, stamp]
    text, kept, slots = _constants_inlined(sql, params, {2: "value", 3: "number"})
    assert text == (
        "SELECT 1 AS a, x LIKE '50%%' FROM t WHERE s = 'ACTIVE' AND v = %s AND n = %s AND q = %s"
        " AND b = %s AND d > %s"
    )
    # The call's values, a quote, a boolean and a date stay parameters, their slots renumbered.
    assert kept == ["marker", 42, "it's", True, stamp]
    assert slots == {0: "value", 1: "number"}


def test_a_prepared_query_with_constants_of_its_own_answers_like_the_orm(cso, csp):
    query = PreparedQuery(
        lambda party: (
            Partner.objects.filter(party_id=party, status=Partner.Status.ACTIVE, is_cso=True)
            .annotate(agreed=Exists(RoamingAgreement.objects.filter(cso_id=OuterRef("pk"), status="ACTIVE")))
            .values("pk", "agreed")
            .order_by()[:1]
        ),
        party=str,
    )
    for party in ("ACH", "BMO", "ZZZ"):
        expected = next(
            iter(
                Partner.objects.filter(party_id=party, status=Partner.Status.ACTIVE, is_cso=True)
                .annotate(
                    agreed=Exists(RoamingAgreement.objects.filter(cso_id=OuterRef("pk"), status="ACTIVE"))
                )
                .values("pk", "agreed")
            ),
            None,
        )
        assert query.first(party=party) == expected
    if connection.vendor == "postgresql":
        sql, params = query.statement(party="ACH")
        assert "'ACTIVE'" in sql and params.count("ACH") == 1


def test_an_instance_from_a_row_is_what_raw_builds(cso):
    from clearinghouse.db import instance_from_row
    from clearinghouse.routing.models import DeliveryChannel, OutboxMessage

    channel = DeliveryChannel.objects.create(partner=cso.partner, role="CSO")
    message = OutboxMessage.objects.create(
        channel=channel,
        partner=cso.partner,
        role="CSO",
        event_type="test.event",
        path="events",
        payload={"a": [1, "b"]},
        max_attempts=3,
        next_attempt_at=datetime.now(UTC),
    )
    table = OutboxMessage._meta.db_table
    # Columns out of field order, one of them an annotation; twice, as a hot path runs it.
    sql = f"SELECT payload, id, 7 AS extra, next_attempt_at, channel_id FROM {table} WHERE id = %s"
    expected = next(iter(OutboxMessage.objects.raw(sql, [message.pk])))
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(sql, [message.pk])
            got = instance_from_row(OutboxMessage, cursor, cursor.fetchone())
        assert (got.pk, got.payload, got.next_attempt_at, got.channel_id, got.extra) == (
            expected.pk,
            expected.payload,
            expected.next_attempt_at,
            expected.channel_id,
            expected.extra,
        )
        assert got.payload == {"a": [1, "b"]} and got.get_deferred_fields() == expected.get_deferred_fields()
    with connection.cursor() as cursor, pytest.raises(ValueError, match="primary key"):
        cursor.execute(f"SELECT payload FROM {table}")
        instance_from_row(OutboxMessage, cursor, cursor.fetchone())


def test_bulk_insert_stores_each_moment_whatever_its_zone_and_precision(cso):
    """Timestamps travel as text in COPY, each distinct moment formatted once: equal moments in
    other zones, microseconds and old years all store the instant they name."""
    from zoneinfo import ZoneInfo

    from clearinghouse.db import bulk_insert, bulk_insert_values
    from credentials.models import AuthorizationRecord

    now = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)
    moments = [
        now,
        now.astimezone(ZoneInfo("Europe/Berlin")),  # the same instant, another offset
        now + timedelta(microseconds=1),  # across the DST change in Berlin
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 0, tzinfo=ZoneInfo("America/St_Johns")),  # a half-hour offset
    ]
    records = [
        AuthorizationRecord(
            cso_id=cso.partner.pk, evse_id="DE*ACH*E1*1", credential_type="RFID", status="ACCEPTED",
            decided_by="HUB", decided_at=moment, authorization_reference=f"moment-{i}", created_at=now,
        )
        for i, moment in enumerate(moments)
    ]  # fmt: skip
    bulk_insert(records)
    rows = [
        {
            "cso_id": cso.partner.pk, "evse_id": "DE*ACH*E2*1", "credential_type": "RFID",
            "status": "ACCEPTED", "decided_by": "HUB", "decided_at": moment,
            "authorization_reference": f"moment-values-{i}", "created_at": now,
        }
        for i, moment in enumerate(moments)
    ]  # fmt: skip
    bulk_insert_values(AuthorizationRecord, rows)
    for prefix in ("moment-", "moment-values-"):
        stored = AuthorizationRecord.objects.filter(
            authorization_reference__in=[f"{prefix}{i}" for i in range(len(moments))]
        ).order_by("authorization_reference")
        assert [r.decided_at for r in stored] == moments
        assert all(r.decided_at.utcoffset() == timedelta(0) for r in stored)
        assert {r.created_at for r in stored} == {now}
