from django.db import migrations

from core.beat import schedule


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0005_campaigns")]

    operations = [
        schedule(name="Campaigns: launch and complete", task="campaigns.tasks.campaign_dispatch", hour="*",
                 minute="*"),
    ]
