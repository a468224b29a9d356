"""Database guards: what is final stays final, whatever code runs against the database.

- A statement that is not DRAFT keeps its figures, number, snapshot and period; only its payment
  state moves forward (FINAL → PARTIALLY_PAID → PAID, paid amount up) and its stored report files
  may be replaced (privacy redaction). On PostgreSQL it cannot be deleted either.
- The fees of a statement that is not DRAFT cannot be added, changed (or, on PostgreSQL, deleted).
- The lines of a closed run (one with a final statement) and the links that settle SDRs on them
  cannot be added or changed; a link is never updated.

On PostgreSQL the link guard is a statement-level trigger over the inserted rows (one join per
INSERT ... SELECT, not one lookup per SDR). SQLite (the embedded default) gets row triggers and no
DELETE guards, because Django empties its tables with DELETE between tests. Violations raise an
integrity error (SQLSTATE 23000 on PostgreSQL, SQLITE_CONSTRAINT on SQLite). SQLite drops a
table's triggers when a later migration rebuilds the table: such a migration must create them again.
"""

from django.db import migrations

STATEMENT = "settlement_statement"
FEE = "settlement_statementfee"
LINE = "settlement_statementline"
LINK = "settlement_statementsdr"
RUN = "settlement_settlementrun"

# Columns a final statement keeps (payment state, paid amount, paid_at, reports and updated_at move).
LOCKED = (
    "number",
    "run_id",
    "partner_id",
    "cadence",
    "period_key",
    "period_start",
    "period_end",
    "currency",
    "sdr_count",
    "energy_kwh",
    "receivable_as_cso",
    "payable_as_csp",
    "hub_fees",
    "net",
    "disputed_held_incl_vat",
    "payer",
    "payment_amount",
    "computed_at",
    "issued_at",
    "snapshot",
)
# A final statement's state only moves forward; its paid amount only grows.
REGRESSION = (
    "NEW.state = 'DRAFT' OR (OLD.state = 'PAID' AND NEW.state <> 'PAID') "
    "OR (OLD.state = 'PARTIALLY_PAID' AND NEW.state = 'FINAL') OR NEW.paid_amount < OLD.paid_amount"
)

PG_CHANGED = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in LOCKED)
SQLITE_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in LOCKED)

POSTGRES = f"""
CREATE OR REPLACE FUNCTION settlement_statement_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'DRAFT' THEN
            RAISE EXCEPTION 'statement % is final and cannot be deleted', OLD.number USING ERRCODE = '23000';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state <> 'DRAFT' AND ({PG_CHANGED} OR {REGRESSION}) THEN
        RAISE EXCEPTION 'statement % is final: it cannot change', OLD.number USING ERRCODE = '23000';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER settlement_statement_locked BEFORE UPDATE OR DELETE ON {STATEMENT}
    FOR EACH ROW EXECUTE FUNCTION settlement_statement_locked();

CREATE OR REPLACE FUNCTION settlement_fee_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND EXISTS (
        SELECT 1 FROM {STATEMENT} WHERE id = OLD.statement_id AND state <> 'DRAFT'
    ) THEN
        RAISE EXCEPTION 'the fees of a final statement cannot change' USING ERRCODE = '23000';
    END IF;
    IF TG_OP <> 'DELETE' AND EXISTS (
        SELECT 1 FROM {STATEMENT} WHERE id = NEW.statement_id AND state <> 'DRAFT'
    ) THEN
        RAISE EXCEPTION 'the fees of a final statement cannot change' USING ERRCODE = '23000';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER settlement_fee_locked BEFORE INSERT OR UPDATE OR DELETE ON {FEE}
    FOR EACH ROW EXECUTE FUNCTION settlement_fee_locked();

CREATE OR REPLACE FUNCTION settlement_line_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND EXISTS (
        SELECT 1 FROM {RUN} WHERE id = OLD.run_id AND closed_at IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'the lines of a closed settlement run cannot change' USING ERRCODE = '23000';
    END IF;
    IF TG_OP <> 'DELETE' AND EXISTS (
        SELECT 1 FROM {RUN} WHERE id = NEW.run_id AND closed_at IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'the lines of a closed settlement run cannot change' USING ERRCODE = '23000';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER settlement_line_locked BEFORE INSERT OR UPDATE OR DELETE ON {LINE}
    FOR EACH ROW EXECUTE FUNCTION settlement_line_locked();

CREATE OR REPLACE FUNCTION settlement_link_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM changed_links k
        JOIN {LINE} l ON l.id = k.line_id
        JOIN {RUN} r ON r.id = l.run_id
        WHERE r.closed_at IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'SDRs cannot be settled on, or removed from, a closed settlement run'
            USING ERRCODE = '23000';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER settlement_link_locked_insert AFTER INSERT ON {LINK}
    REFERENCING NEW TABLE AS changed_links FOR EACH STATEMENT EXECUTE FUNCTION settlement_link_locked();
CREATE TRIGGER settlement_link_locked_delete AFTER DELETE ON {LINK}
    REFERENCING OLD TABLE AS changed_links FOR EACH STATEMENT EXECUTE FUNCTION settlement_link_locked();

CREATE OR REPLACE FUNCTION settlement_link_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the link that settled an SDR never changes' USING ERRCODE = '23000';
END $$;
CREATE TRIGGER settlement_link_fixed BEFORE UPDATE ON {LINK}
    FOR EACH ROW EXECUTE FUNCTION settlement_link_fixed();
"""

POSTGRES_REVERSE = f"""
DROP TRIGGER IF EXISTS settlement_link_fixed ON {LINK};
DROP TRIGGER IF EXISTS settlement_link_locked_delete ON {LINK};
DROP TRIGGER IF EXISTS settlement_link_locked_insert ON {LINK};
DROP TRIGGER IF EXISTS settlement_line_locked ON {LINE};
DROP TRIGGER IF EXISTS settlement_fee_locked ON {FEE};
DROP TRIGGER IF EXISTS settlement_statement_locked ON {STATEMENT};
DROP FUNCTION IF EXISTS settlement_link_fixed();
DROP FUNCTION IF EXISTS settlement_link_locked();
DROP FUNCTION IF EXISTS settlement_line_locked();
DROP FUNCTION IF EXISTS settlement_fee_locked();
DROP FUNCTION IF EXISTS settlement_statement_locked();
"""

_CLOSED_RUN = "SELECT 1 FROM {run} WHERE id = {ref}.run_id AND closed_at IS NOT NULL"
_FINAL_STATEMENT = "SELECT 1 FROM {statement} WHERE id = {ref}.statement_id AND state <> 'DRAFT'"

SQLITE = [
    f"""CREATE TRIGGER settlement_statement_locked BEFORE UPDATE ON {STATEMENT}
    WHEN OLD.state <> 'DRAFT' AND ({SQLITE_CHANGED} OR {REGRESSION})
    BEGIN SELECT RAISE(ABORT, 'statement is final: it cannot change'); END""",
    *(
        f"""CREATE TRIGGER settlement_fee_locked_{op.lower()} BEFORE {op} ON {FEE}
    WHEN EXISTS ({_FINAL_STATEMENT.format(statement=STATEMENT, ref="NEW")})
    BEGIN SELECT RAISE(ABORT, 'the fees of a final statement cannot change'); END"""
        for op in ("INSERT", "UPDATE")
    ),
    *(
        f"""CREATE TRIGGER settlement_line_locked_{op.lower()} BEFORE {op} ON {LINE}
    WHEN EXISTS ({_CLOSED_RUN.format(run=RUN, ref="NEW")})
    BEGIN SELECT RAISE(ABORT, 'the lines of a closed settlement run cannot change'); END"""
        for op in ("INSERT", "UPDATE")
    ),
    f"""CREATE TRIGGER settlement_link_locked_insert BEFORE INSERT ON {LINK}
    WHEN EXISTS (SELECT 1 FROM {LINE} l JOIN {RUN} r ON r.id = l.run_id
                 WHERE l.id = NEW.line_id AND r.closed_at IS NOT NULL)
    BEGIN SELECT RAISE(ABORT, 'SDRs cannot be settled on a closed settlement run'); END""",
    f"""CREATE TRIGGER settlement_link_fixed BEFORE UPDATE ON {LINK}
    BEGIN SELECT RAISE(ABORT, 'the link that settled an SDR never changes'); END""",
]
SQLITE_TRIGGERS = (
    "settlement_statement_locked",
    "settlement_fee_locked_insert",
    "settlement_fee_locked_update",
    "settlement_line_locked_insert",
    "settlement_line_locked_update",
    "settlement_link_locked_insert",
    "settlement_link_fixed",
)


def _run(schema_editor, statements):
    # Without parameters, so the "%" of RAISE messages is not read as a placeholder.
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


class Migration(migrations.Migration):
    dependencies = [("settlement", "0002_statements")]

    operations = [migrations.RunPython(forwards, backwards)]
