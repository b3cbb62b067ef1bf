"""The nightly housekeeping run, as a django-celery-beat row head office can edit in the admin."""

from django.db import migrations

from core.beat import schedule


class Migration(migrations.Migration):
    dependencies = [
        ("org", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [schedule(name="Nightly housekeeping", task="org.tasks.housekeeping", hour="3", minute="30")]
