"""Audit events and Idempotency-Key records now belong to the kernel (core 0001 renamed their tables)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("org", "0005_audit_event"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent"), migrations.DeleteModel(name="IdempotencyRecord")],
        ),
    ]
