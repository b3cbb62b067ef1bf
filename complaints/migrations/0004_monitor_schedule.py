from django.db import migrations

from core.beat import schedule


class Migration(migrations.Migration):
    dependencies = [("complaints", "0003_holds_and_satisfaction")]

    operations = [
        # The SLA monitor: warnings and escalation steps of the open complaints (each once however often it runs).
        schedule(name="Complaint SLA monitor", task="complaints.tasks.sla_monitor", hour="*", minute="*/5"),
    ]
