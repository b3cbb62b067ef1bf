"""The outbox table, and a beat row that delivers it every minute (core.tasks.outbox_deliver)."""

from django.db import migrations, models

from core.beat import schedule


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_audit_event_form'),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('topic', models.CharField(max_length=100, verbose_name='topic')),
                ('payload', models.JSONField(blank=True, default=dict, verbose_name='payload')),
                ('created', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('available_at', models.DateTimeField(blank=True, null=True, verbose_name='due')),
                ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                ('delivered_at', models.DateTimeField(blank=True, null=True, verbose_name='delivered')),
                ('last_error', models.TextField(blank=True, default='', verbose_name='last error')),
            ],
            options={
                'verbose_name': 'outbox message',
                'verbose_name_plural': 'outbox messages',
                'ordering': ['-id'],
                'indexes': [models.Index(condition=models.Q(('available_at__isnull', False), ('delivered_at__isnull', True)), fields=['available_at', 'id'], name='outbox_due'), models.Index(condition=models.Q(('delivered_at__isnull', False)), fields=['delivered_at'], name='outbox_delivered')],
            },
        ),
        schedule(name="Outbox delivery", task="core.tasks.outbox_deliver", hour="*", minute="*"),
    ]
