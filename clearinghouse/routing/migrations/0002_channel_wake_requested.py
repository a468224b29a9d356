"""A channel's wake-up request: a delivery task was started for it and has not claimed it yet.

Writers that find it set start no task of their own (delivery.channel_wake). The column has a
default in the database as well as in the model, so that processes of the previous release, which
do not know it, can still create channels while both releases run side by side; PostgreSQL adds a
column with a constant default without rewriting the table.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="deliverychannel",
            name="wake_requested",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
