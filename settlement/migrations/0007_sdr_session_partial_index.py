"""The index on an SDR's session id holds only the SDRs that name a session.

A CDR's session_id is optional and most CSOs leave it out: every SDR stored without one added an
entry for '' to sdr_session, an index only ever searched for a given session id. The partial index
leaves those rows out; a lookup by value (session_id = 'x') implies session_id <> '', so it still
uses it.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("settlement", "0006_sdr_document_compression")]

    operations = [
        migrations.RemoveIndex(model_name="sdr", name="sdr_session"),
        migrations.AddIndex(
            model_name="sdr",
            index=models.Index(
                condition=models.Q(("session_id", ""), _negated=True),
                fields=["session_id"],
                name="sdr_session",
            ),
        ),
    ]
