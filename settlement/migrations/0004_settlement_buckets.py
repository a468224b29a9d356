"""Settlement buckets: an SDR joins its bucket when it becomes ACCEPTED, and a run settles it by
closing the bucket onto a statement line, without writing to the SDR (settlement.models.statements).

Existing links (StatementSdr, one row per settled SDR) become one closed bucket per line, their SDRs
ACCEPTED in it (SETTLED is now "ACCEPTED in a closed bucket"). Single-column indexes on the SDR's
CSO and CSP go (the composite indexes sdr_cso_updated and sdr_csp_updated lead with them), and the
partial index of settleable SDRs becomes one of accepted SDRs without a bucket.

Guards, whatever code runs against the database (violations raise an integrity error, as in 0003):
- an SDR joins a bucket only while the bucket is open (on PostgreSQL under a share lock of the
  bucket row, so a run closing the bucket waits for it or it sees the bucket closed), and only
  when ACCEPTED and of the bucket's pair and currency (PostgreSQL);
- an SDR leaves only an open bucket (to be placed again when its pair's cadence changed); one in
  a closed bucket never leaves it and keeps its state, pair, currency, credit flag and amounts (the
  line's sums were made from them);
- a bucket closes once, onto a line of its pair in a run of its currency that is not closed, and
  a closed bucket never changes (nor, on PostgreSQL, is deleted).
The link triggers of 0003 go with their table.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import Max
from django.utils import timezone

SDR = "settlement_sdr"
BUCKET = "settlement_settlementbucket"
LINE = "settlement_statementline"
RUN = "settlement_settlementrun"

# Columns an SDR in a closed bucket keeps (privacy may still pseudonymise its personal references).
SETTLED_KEPT = ("state", "cso_id", "csp_id", "currency", "credit", "total_cost_excl_vat",
                "total_cost_incl_vat", "total_energy")  # fmt: skip
PG_KEPT = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in SETTLED_KEPT)
SQLITE_KEPT = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in SETTLED_KEPT)
BUCKET_KEPT = ("cso_id", "csp_id", "currency", "cadence")
PG_BUCKET_KEPT = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in BUCKET_KEPT)
SQLITE_BUCKET_KEPT = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in BUCKET_KEPT)

POSTGRES = f"""
DROP FUNCTION IF EXISTS settlement_link_fixed();
DROP FUNCTION IF EXISTS settlement_link_locked();

CREATE OR REPLACE FUNCTION settlement_sdr_bucket_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b RECORD;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.bucket_id IS NOT NULL THEN
        SELECT line_id INTO b FROM {BUCKET} WHERE id = OLD.bucket_id FOR SHARE;
        IF b.line_id IS NOT NULL THEN
            IF NEW.bucket_id IS DISTINCT FROM OLD.bucket_id THEN
                RAISE EXCEPTION 'a settled SDR never leaves its settlement bucket' USING ERRCODE = '23000';
            END IF;
            IF {PG_KEPT} THEN
                RAISE EXCEPTION 'a settled SDR keeps its state and amounts' USING ERRCODE = '23000';
            END IF;
            RETURN NEW;
        END IF;
        IF NEW.bucket_id IS NULL OR NEW.bucket_id = OLD.bucket_id THEN
            RETURN NEW;
        END IF;
    END IF;
    SELECT line_id, cso_id, csp_id, currency INTO b FROM {BUCKET} WHERE id = NEW.bucket_id FOR SHARE;
    IF b.line_id IS NOT NULL THEN
        RAISE EXCEPTION 'a closed settlement bucket takes no SDR' USING ERRCODE = '23000';
    END IF;
    IF NEW.state <> 'ACCEPTED' OR NEW.cso_id <> b.cso_id OR NEW.csp_id IS DISTINCT FROM b.csp_id
        OR NEW.currency <> b.currency THEN
        RAISE EXCEPTION 'only an accepted SDR of the bucket''s pair and currency joins it' USING ERRCODE = '23000';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER settlement_sdr_bucket_insert BEFORE INSERT ON {SDR}
    FOR EACH ROW WHEN (NEW.bucket_id IS NOT NULL) EXECUTE FUNCTION settlement_sdr_bucket_guard();
CREATE TRIGGER settlement_sdr_bucket_update BEFORE UPDATE ON {SDR}
    FOR EACH ROW WHEN (OLD.bucket_id IS NOT NULL OR NEW.bucket_id IS NOT NULL)
    EXECUTE FUNCTION settlement_sdr_bucket_guard();

CREATE OR REPLACE FUNCTION settlement_bucket_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.line_id IS NOT NULL THEN
            RAISE EXCEPTION 'a closed settlement bucket stays' USING ERRCODE = '23000';
        END IF;
        RETURN OLD;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.line_id IS NOT NULL THEN
            RAISE EXCEPTION 'a settlement bucket starts open' USING ERRCODE = '23000';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.line_id IS NOT NULL AND (NEW.line_id IS DISTINCT FROM OLD.line_id
        OR NEW.closed_at IS DISTINCT FROM OLD.closed_at OR NEW.period_key IS DISTINCT FROM OLD.period_key) THEN
        RAISE EXCEPTION 'a closed settlement bucket never changes' USING ERRCODE = '23000';
    END IF;
    IF {PG_BUCKET_KEPT} THEN
        RAISE EXCEPTION 'a settlement bucket keeps its pair, currency and cadence' USING ERRCODE = '23000';
    END IF;
    IF OLD.line_id IS NULL AND NEW.line_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM {LINE} l JOIN {RUN} r ON r.id = l.run_id
        WHERE l.id = NEW.line_id AND l.cso_id = NEW.cso_id AND l.csp_id = NEW.csp_id
            AND r.currency = NEW.currency AND r.closed_at IS NULL
    ) THEN
        RAISE EXCEPTION 'a bucket closes onto a line of its pair in an open run of its currency'
            USING ERRCODE = '23000';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER settlement_bucket_guard BEFORE INSERT OR UPDATE OR DELETE ON {BUCKET}
    FOR EACH ROW EXECUTE FUNCTION settlement_bucket_guard();
"""

POSTGRES_REVERSE = f"""
DROP TRIGGER IF EXISTS settlement_bucket_guard ON {BUCKET};
DROP TRIGGER IF EXISTS settlement_sdr_bucket_update ON {SDR};
DROP TRIGGER IF EXISTS settlement_sdr_bucket_insert ON {SDR};
DROP FUNCTION IF EXISTS settlement_bucket_guard();
DROP FUNCTION IF EXISTS settlement_sdr_bucket_guard();
"""

_CLOSED = "EXISTS (SELECT 1 FROM {bucket} WHERE id = {ref}.bucket_id AND line_id IS NOT NULL)"

SQLITE = [
    f"""CREATE TRIGGER settlement_sdr_bucket_insert BEFORE INSERT ON {SDR}
    WHEN NEW.bucket_id IS NOT NULL AND {_CLOSED.format(bucket=BUCKET, ref="NEW")}
    BEGIN SELECT RAISE(ABORT, 'a closed settlement bucket takes no SDR'); END""",
    f"""CREATE TRIGGER settlement_sdr_bucket_join BEFORE UPDATE ON {SDR}
    WHEN NEW.bucket_id IS NOT OLD.bucket_id
        AND ({_CLOSED.format(bucket=BUCKET, ref="OLD")} OR {_CLOSED.format(bucket=BUCKET, ref="NEW")})
    BEGIN SELECT RAISE(ABORT, 'an SDR joins and leaves only open settlement buckets'); END""",
    f"""CREATE TRIGGER settlement_sdr_settled_fixed BEFORE UPDATE ON {SDR}
    WHEN OLD.bucket_id IS NOT NULL AND ({SQLITE_KEPT}) AND {_CLOSED.format(bucket=BUCKET, ref="OLD")}
    BEGIN SELECT RAISE(ABORT, 'a settled SDR keeps its state and amounts'); END""",
    f"""CREATE TRIGGER settlement_bucket_open_insert BEFORE INSERT ON {BUCKET}
    WHEN NEW.line_id IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'a settlement bucket starts open'); END""",
    f"""CREATE TRIGGER settlement_bucket_closed_fixed BEFORE UPDATE ON {BUCKET}
    WHEN (OLD.line_id IS NOT NULL AND (NEW.line_id IS NOT OLD.line_id OR NEW.closed_at IS NOT OLD.closed_at
        OR NEW.period_key IS NOT OLD.period_key)) OR {SQLITE_BUCKET_KEPT}
    BEGIN SELECT RAISE(ABORT, 'a closed settlement bucket never changes'); END""",
    f"""CREATE TRIGGER settlement_bucket_close_check BEFORE UPDATE ON {BUCKET}
    WHEN OLD.line_id IS NULL AND NEW.line_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM {LINE} l JOIN {RUN} r ON r.id = l.run_id
        WHERE l.id = NEW.line_id AND l.cso_id = NEW.cso_id AND l.csp_id = NEW.csp_id
            AND r.currency = NEW.currency AND r.closed_at IS NULL)
    BEGIN SELECT RAISE(ABORT, 'a bucket closes onto a line of its pair in an open run of its currency'); END""",
]
SQLITE_TRIGGERS = (
    "settlement_sdr_bucket_insert",
    "settlement_sdr_bucket_join",
    "settlement_sdr_settled_fixed",
    "settlement_bucket_open_insert",
    "settlement_bucket_closed_fixed",
    "settlement_bucket_close_check",
)


def _run(schema_editor, statements):
    # Without parameters, so no "%" is read as a placeholder.
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, [POSTGRES])
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, [POSTGRES_REVERSE])
    elif vendor == "sqlite":
        _run(schema_editor, [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS])


def links_to_buckets(apps, schema_editor):
    """Each line's settled SDRs go into one closed bucket of the line, ACCEPTED (SETTLED is derived)."""
    link = apps.get_model("settlement", "StatementSdr")
    bucket = apps.get_model("settlement", "SettlementBucket")
    line_model = apps.get_model("settlement", "StatementLine")
    sdr = apps.get_model("settlement", "Sdr")
    for line in line_model.objects.filter(pk__in=link.objects.values("line_id")).select_related("run"):
        run = line.run
        settled = sdr.objects.filter(pk__in=link.objects.filter(line_id=line.pk).values("sdr_id"))
        closed_at = settled.aggregate(last=Max("settled_at"))["last"] or run.finished_at or timezone.now()
        created = bucket.objects.create(
            cso_id=line.cso_id,
            csp_id=line.csp_id,
            currency=run.currency,
            cadence=run.cadence,
            period_key=run.period_key,
            period_start=run.period_start,
            period_end=run.period_end,
            line_id=line.pk,
            closed_at=closed_at,
        )
        settled.update(bucket_id=created.pk, state="ACCEPTED")


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0001_initial"),
        ("settlement", "0003_statement_locks"),
    ]

    operations = [
        migrations.CreateModel(
            name="SettlementBucket",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("currency", models.CharField(max_length=3)),
                (
                    "cadence",
                    models.CharField(
                        choices=[
                            ("DAILY", "Daily"),
                            ("WEEKLY", "Weekly (ISO weeks)"),
                            ("MONTHLY", "Monthly"),
                        ],
                        max_length=7,
                    ),
                ),
                ("period_key", models.CharField(max_length=10)),
                ("period_start", models.DateTimeField()),
                ("period_end", models.DateTimeField(help_text="exclusive")),
                ("closed_at", models.DateTimeField(blank=True, help_text="when a run settled it", null=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.AddField(
            model_name="settlementbucket",
            name="cso",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.partner",
                verbose_name="CSO",
            ),
        ),
        migrations.AddField(
            model_name="settlementbucket",
            name="csp",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.partner",
                verbose_name="CSP",
            ),
        ),
        migrations.AddField(
            model_name="settlementbucket",
            name="line",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="buckets",
                to="settlement.statementline",
            ),
        ),
        migrations.AddField(
            model_name="sdr",
            name="bucket",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sdrs",
                to="settlement.settlementbucket",
            ),
        ),
        migrations.AddIndex(
            model_name="settlementbucket",
            index=models.Index(
                condition=models.Q(("line__isnull", True)),
                fields=["cadence", "currency", "period_key", "cso", "csp"],
                name="settlement_bucket_open",
            ),
        ),
        migrations.AddConstraint(
            model_name="settlementbucket",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("closed_at__isnull", True), ("line__isnull", True)),
                    models.Q(("closed_at__isnull", False), ("line__isnull", False)),
                    _connector="OR",
                ),
                name="settlement_bucket_closed_with_line",
            ),
        ),
        migrations.RunPython(links_to_buckets, migrations.RunPython.noop),
        migrations.DeleteModel(
            name="StatementSdr",
        ),
        migrations.RemoveIndex(
            model_name="sdr",
            name="sdr_settleable",
        ),
        migrations.RemoveField(
            model_name="sdr",
            name="settled_at",
        ),
        migrations.AlterField(
            model_name="sdr",
            name="cso",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sdrs_as_cso",
                to="partners.partner",
                verbose_name="CSO",
            ),
        ),
        migrations.AlterField(
            model_name="sdr",
            name="csp",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sdrs_as_csp",
                to="partners.partner",
                verbose_name="CSP",
            ),
        ),
        migrations.AddIndex(
            model_name="sdr",
            index=models.Index(
                condition=models.Q(("bucket__isnull", True), ("state", "ACCEPTED")),
                fields=["currency", "end_date_time"],
                name="sdr_unbucketed",
            ),
        ),
        migrations.AddIndex(
            model_name="sdr",
            index=models.Index(
                condition=models.Q(("state", "DISPUTED")),
                fields=["currency", "end_date_time"],
                name="sdr_disputed",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
