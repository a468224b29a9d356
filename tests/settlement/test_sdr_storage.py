"""How PostgreSQL stores an SDR: its documents with LZ4 where the server has it, read back unchanged;
its session id indexed only when it names one."""

from __future__ import annotations

import pytest
from django.db import connection

from settlement.models import Sdr

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="what is checked here is PostgreSQL's"),
]


def _lz4_available() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
        return cursor.fetchone()[0] == 1


def test_cdr_and_rating_are_compressed_with_lz4():
    if not _lz4_available():
        pytest.skip("this PostgreSQL is built without LZ4")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attcompression FROM pg_attribute "
            "WHERE attrelid = 'settlement_sdr'::regclass AND attname IN ('cdr', 'rating') ORDER BY attname"
        )
        assert cursor.fetchall() == [("cdr", "l"), ("rating", "l")]


def test_a_compressed_document_reads_back_as_stored(cso):
    document = {"id": "SDR-1", "remark": "x" * 3000, "charging_periods": [{"dimensions": []}] * 40}
    rating = {"lines": [{"dimension": "ENERGY", "excl_vat": "1.0000"}] * 80}
    sdr = Sdr.objects.create(
        cso=cso.partner, sdr_id="SDR-1", content_hash="h", state="REJECTED", cdr=document, rating=rating
    )
    stored = Sdr.objects.get(pk=sdr.pk)
    assert (stored.cdr, stored.rating) == (document, rating)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_compression(cdr) FROM settlement_sdr WHERE id = %s", [sdr.pk])
        assert cursor.fetchone()[0] == ("lz4" if _lz4_available() else "pglz")


def test_an_sdr_without_a_session_id_adds_no_entry_to_its_index(cso):
    for sdr_id, session_id in (("SDR-1", ""), ("SDR-2", ""), ("SDR-3", "S-1")):
        Sdr.objects.create(
            cso=cso.partner, sdr_id=sdr_id, session_id=session_id, content_hash="h", state="REJECTED", cdr={}
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'sdr_session'")
        assert "WHERE" in cursor.fetchone()[0]
        # A partial index is what the planner may use for a lookup by a session id.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT id FROM settlement_sdr WHERE session_id = 'S-1'")
        assert "sdr_session" in " ".join(row[0] for row in cursor.fetchall())
    assert list(Sdr.objects.filter(session_id="S-1").values_list("sdr_id", flat=True)) == ["SDR-3"]
