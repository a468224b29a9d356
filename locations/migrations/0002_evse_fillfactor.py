"""Room on each page of the EVSE table for the next version of its rows.

Live status updates rewrite EVSE rows all the time; with free space on the page and no indexed
column changed, PostgreSQL updates them in place (heap-only tuples) and touches no index.
"""

from django.db import migrations


def _fillfactor(value):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(apps.get_model("locations", "EVSE")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(value)})")

    return apply


class Migration(migrations.Migration):

    dependencies = [
        ("locations", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(_fillfactor(70), _fillfactor(100)),
    ]
