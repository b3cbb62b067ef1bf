from django.db import migrations

from core.beat import schedule


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0006_campaign_schedule")]

    operations = [
        # after the follow-up plan (06:00), before the working day: the night's events as RM tasks
        schedule(name="Care: event-triggered tasks", task="campaigns.tasks.care_events", hour="6", minute="10"),
    ]
