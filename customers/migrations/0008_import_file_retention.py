"""Import files are deleted after a retention period: the job remembers when, and a nightly beat row runs it."""

from django.db import migrations, models

from core.beat import schedule


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0007_txid_trigger_when"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="files_removed_at",
            field=models.DateTimeField(blank=True, help_text="When the uploaded file and the rejected-rows file were "
                                       "deleted (they hold personal data and are kept only "
                                       "CRM_IMPORT_FILE_RETENTION_DAYS after the job).",
                                       null=True, verbose_name="files removed"),
        ),
        schedule(name="Nightly deletion of old import files", task="customers.tasks.import_files_purge",
                 hour="3", minute="40"),
    ]
