"""Nightly and periodic jobs as django-celery-beat rows (DESIGN.md: the schedule lives in the database, where head
office can change it in the admin), created by the data migration of the app that owns the task."""

from django.db import migrations


def schedule(*, name: str, task: str, hour: str, minute: str, day_of_month: str = "*",
             timezone: str = "Asia/Shanghai") -> migrations.RunPython:
    """A migration operation: a crontab-scheduled ``PeriodicTask`` for ``task`` (removed again when reversed).

    ``get_or_create`` by name: a row head office has already edited is left as it is.
    """

    def create(apps, schema_editor):
        crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
        task_model = apps.get_model("django_celery_beat", "PeriodicTask")
        crontab, _ = crontab_model.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month=day_of_month, month_of_year="*", timezone=timezone)
        task_model.objects.get_or_create(name=name, defaults={"task": task, "crontab": crontab})

    def remove(apps, schema_editor):
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=task).delete()

    return migrations.RunPython(create, remove)
