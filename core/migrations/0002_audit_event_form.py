"""The one audit-event form: who (user), which actor (API key), on whose behalf, what type (any app's registered
enum, so no choices in the column), which object, old → new, when. Existing rows keep their values."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='auditevent',
            options={'ordering': ['-at'], 'verbose_name': 'audit event', 'verbose_name_plural': 'audit events'},
        ),
        migrations.RenameField(model_name='auditevent', old_name='actor', new_name='user'),
        migrations.RenameField(model_name='auditevent', old_name='action', new_name='type'),
        migrations.AlterField(
            model_name='auditevent',
            name='type',
            field=models.CharField(max_length=50, verbose_name='event'),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='api_key',
            field=models.CharField(blank=True, default='', help_text='The id of the API key the change was made with, if any.', max_length=150, verbose_name='API key'),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='on_behalf_of',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='on behalf of'),
        ),
        migrations.RenameIndex(model_name='auditevent', new_name='core_audit_object', old_name='org_audit_object'),
    ]
