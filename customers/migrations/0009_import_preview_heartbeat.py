"""Import jobs: the dry run's summary of what would change, the worker's heartbeat, and a beat row that runs the
sweeper marking jobs whose worker stopped responding as failed (every 5 minutes)."""

from django.db import migrations, models

from core.beat import schedule


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0008_import_file_retention'),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name='importjob',
            name='changes_preview',
            field=models.JSONField(blank=True, default=dict, help_text='Of a dry run of customers: the number of changed records per field, how many records change an identity field (name, ID, mobile), and the first changed records (old → new, masked).', verbose_name='what the import would change'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, help_text='Updated by the worker with the progress; a running job without a recent one is marked failed.', null=True, verbose_name='last sign of life'),
        ),
        schedule(name="Import jobs whose worker stopped responding marked failed",
                 task="customers.tasks.import_jobs_sweep", hour="*", minute="*/5"),
    ]
