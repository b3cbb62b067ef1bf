from django.db import migrations

from core.beat import schedule


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        # The 2nd of each month at 03:00 Shanghai time: core banking sends the month's snapshots on the 1st.
        schedule(name="Monthly segmentation run", task="segmentation.tasks.run_monthly", hour="3", minute="0",
                 day_of_month="2"),
        schedule(name="Segmentation runs whose workers stopped responding marked failed",
                 task="segmentation.tasks.runs_sweep", hour="*", minute="*/5"),
    ]
