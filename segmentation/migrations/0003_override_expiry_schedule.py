from django.db import migrations

from core.beat import schedule


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0002_schedules"),
    ]

    operations = [
        # Just after midnight Shanghai time: an override ends on its expiry day.
        schedule(name="Expired tier overrides ended", task="segmentation.tasks.overrides_expire", hour="0",
                 minute="5"),
    ]
