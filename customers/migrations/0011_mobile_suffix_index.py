"""The last-four-digits index without a condition, so that the planner uses its statistics.

PostgreSQL ignores the statistics of a partial expression index: with cust_mobile_last4 it guessed that a
suffix matched 0.5 % of the rows (5,000 in a million instead of about 100) and, for a branch supervisor,
walked the whole AUM index to fill a first page: 2.4 s on 1,000,000 customers (bench/README.md). Both
indexes are built and dropped CONCURRENTLY, and the table is analysed so the new statistics exist at once.
"""

import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('customers', '0010_mobile_last4'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='customer',
            index=models.Index(django.db.models.functions.text.Right('mobile', 4), name='cust_mobile_suffix'),
        ),
        RemoveIndexConcurrently(model_name='customer', name='cust_mobile_last4'),
        migrations.RunSQL('ANALYZE customers_customer', migrations.RunSQL.noop, elidable=True),
    ]
