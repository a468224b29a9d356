"""How PostgreSQL stores an SDR's documents: LZ4 where the server has it, read back unchanged."""

from __future__ import annotations

import pytest
from django.db import connection

from settlement.models import Sdr

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="column compression is PostgreSQL's"),
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
