"""Indexes on SDR links that are empty on nearly every row hold only the rows that have one.

Storing an SDR added an entry to the indexes of credit_of, replacement_of and bucket (all NULL on
arrival), and each hub event one to the index of its partner (NULL for the hub's own); a charging
period indexed its SDR twice (sdr_period_unique_index leads with it). Partial indexes replace them:
a lookup by value (x_id = 1, x_id IN (...)) implies IS NOT NULL, so it still uses them.

The old indexes are dropped by name rather than by AlterField: on PostgreSQL AlterField(db_index=
False) also drops every other single-column index of the field, sdr_unique_credit_per_original
among them, and drops and re-validates the foreign keys.
"""

import django.db.models.deletion
from django.db import migrations, models


# The indexes Django made for the foreign keys (db_index=True), by their deterministic names.
OLD_INDEXES = {
    "settlement_sdr_bucket_id_b19090bb": ("settlement_sdr", "bucket_id"),
    "settlement_sdr_credit_of_id_8f710a24": ("settlement_sdr", "credit_of_id"),
    "settlement_sdr_replacement_of_id_409a2b8a": ("settlement_sdr", "replacement_of_id"),
    "settlement_sdrchargingperiod_sdr_id_96c57442": ("settlement_sdrchargingperiod", "sdr_id"),
    "settlement_sdrevent_partner_id_328be467": ("settlement_sdrevent", "partner_id"),
}


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0001_initial"),
        ("settlement", "0004_settlement_buckets"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="sdr",
                    name="bucket",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="sdrs",
                        to="settlement.settlementbucket",
                    ),
                ),
                migrations.AlterField(
                    model_name="sdr",
                    name="credit_of",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credits",
                        to="settlement.sdr",
                    ),
                ),
                migrations.AlterField(
                    model_name="sdr",
                    name="replacement_of",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="replacements",
                        to="settlement.sdr",
                    ),
                ),
                migrations.AlterField(
                    model_name="sdrchargingperiod",
                    name="sdr",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="periods",
                        to="settlement.sdr",
                    ),
                ),
                migrations.AlterField(
                    model_name="sdrevent",
                    name="partner",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="partners.partner",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=[f'DROP INDEX IF EXISTS "{name}"' for name in OLD_INDEXES],
                    reverse_sql=[
                        f'CREATE INDEX "{name}" ON "{table}" ("{column}")'
                        for name, (table, column) in OLD_INDEXES.items()
                    ],
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="sdr",
            index=models.Index(
                condition=models.Q(("credit_of__isnull", False)), fields=["credit_of"], name="sdr_credit_of"
            ),
        ),
        migrations.AddIndex(
            model_name="sdr",
            index=models.Index(
                condition=models.Q(("replacement_of__isnull", False)),
                fields=["replacement_of"],
                name="sdr_replacement_of",
            ),
        ),
        migrations.AddIndex(
            model_name="sdr",
            index=models.Index(
                condition=models.Q(("bucket__isnull", False)), fields=["bucket"], name="sdr_bucket"
            ),
        ),
        migrations.AddIndex(
            model_name="sdrevent",
            index=models.Index(
                condition=models.Q(("partner__isnull", False)), fields=["partner"], name="sdr_event_partner"
            ),
        ),
    ]
