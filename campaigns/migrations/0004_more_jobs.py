from django.db import migrations

from core.beat import schedule


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0003_bank_dates")]

    operations = [
        schedule(name="Care: festival scan", task="campaigns.tasks.festival_scan", hour="0", minute="40"),
        schedule(name="Care: follow-up plan", task="campaigns.tasks.follow_up_scan", hour="6", minute="0"),
    ]
