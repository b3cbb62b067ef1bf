from django.db import migrations

from core.beat import schedule


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [
        # crontabs in Asia/Shanghai: the birthday scan at 00:30 Shanghai time (16:30 UTC the day before)
        schedule(name="Care: birthday scan", task="campaigns.tasks.birthday_scan", hour="0", minute="30"),
        schedule(name="Care: message dispatch", task="campaigns.tasks.dispatch", hour="*", minute="*"),
        schedule(name="Care: reconcile interrupted sends", task="campaigns.tasks.reconcile", hour="*",
                 minute="*/5"),
    ]
