"""Search by the last four digits of a mobile (手机尾号): a partial expression index on right(mobile, 4).

Built CONCURRENTLY (outside a transaction), so a deployment with a million customers keeps taking writes
while it is built.
"""

import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('customers', '0009_import_preview_heartbeat'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='customer',
            index=models.Index(django.db.models.functions.text.Right('mobile', 4),
                               condition=models.Q(('mobile', ''), _negated=True), name='cust_mobile_last4'),
        ),
    ]
