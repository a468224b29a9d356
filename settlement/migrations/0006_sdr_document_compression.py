"""On PostgreSQL, an SDR's stored CDR and rating are compressed with LZ4 rather than pglz.

An SDR row (some 2.6 kB with its CDR and rating) is over the size at which PostgreSQL compresses
its largest values, so every stored SDR had both documents compressed with pglz: about a tenth of
the server's time in bulk intake. LZ4 compresses them to nearly the same size (some 880 bytes for
a CDR rather than 840) in about half the time, and reads them back faster. Only the method for new
values changes: rows already stored keep theirs, and both are read alike. A server built without
LZ4 keeps pglz. Nothing changes on SQLite.
"""

from django.db import migrations

COLUMNS = (("settlement_sdr", "cdr"), ("settlement_sdr", "rating"))


def _set_compression(method: str):
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column in COLUMNS:
            # feature_not_supported: a server built without LZ4 keeps what it has.
            schema_editor.execute(
                "DO $$ BEGIN "
                f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION {method}; '
                "EXCEPTION WHEN feature_not_supported THEN NULL; END $$"
            )

    return run


class Migration(migrations.Migration):
    dependencies = [("settlement", "0005_partial_link_indexes")]

    operations = [migrations.RunPython(_set_compression("lz4"), _set_compression("pglz"))]
