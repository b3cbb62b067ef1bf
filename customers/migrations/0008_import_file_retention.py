"""Import files are deleted after a retention period: the job remembers when, and a nightly beat row runs it."""

from django.db import migrations, models

TASK = "customers.tasks.import_files_purge"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="40", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai")
    PeriodicTask.objects.get_or_create(name="Nightly deletion of old import files",
                                       defaults={"task": TASK, "crontab": crontab})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


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
        migrations.RunPython(create_schedule, remove_schedule),
    ]
