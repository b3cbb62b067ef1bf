"""Audit events and Idempotency-Key records move from org to the kernel with their rows: the tables are renamed
(org_auditevent → core_auditevent, org_idempotencyrecord → core_idempotencyrecord), org forgets the models
(org 0006) and their content types (so permissions granted on them) follow."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ["auditevent", "idempotencyrecord"]


def _relabel(apps, old: str, new: str):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not content_type.objects.filter(app_label=new, model=model).exists():
            content_type.objects.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps, schema_editor):
    _relabel(apps, "org", "core")


def backwards(apps, schema_editor):
    _relabel(apps, "core", "org")


def rename(old: str, new: str) -> migrations.RunSQL:
    return migrations.RunSQL(f"ALTER TABLE {old} RENAME TO {new}", f"ALTER TABLE {new} RENAME TO {old}")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("org", "0005_audit_event"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[rename("org_auditevent", "core_auditevent"),
                                 rename("org_idempotencyrecord", "core_idempotencyrecord")],
            state_operations=[
                migrations.CreateModel(
                    name='AuditEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='time')),
                        ('action', models.CharField(max_length=30, verbose_name='action')),
                        ('object_type', models.CharField(max_length=30, verbose_name='object type')),
                        ('object_id', models.CharField(max_length=255, verbose_name='object id')),
                        ('object_repr', models.CharField(max_length=200, verbose_name='object')),
                        ('changes', models.JSONField(blank=True, default=dict, verbose_name='changes')),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='by')),
                    ],
                    options={
                        'verbose_name': 'organisation audit event',
                        'verbose_name_plural': 'organisation audit events',
                        'ordering': ['-at'],
                        'indexes': [models.Index(fields=['object_type', 'object_id'], name='org_audit_object')],
                    },
                ),
                migrations.CreateModel(
                    name='IdempotencyRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('owner', models.CharField(max_length=40, verbose_name='caller')),
                        ('key', models.CharField(max_length=255, verbose_name='idempotency key')),
                        ('method', models.CharField(max_length=10, verbose_name='method')),
                        ('path', models.CharField(max_length=255, verbose_name='endpoint')),
                        ('body_hash', models.CharField(max_length=64, verbose_name='body hash')),
                        ('status', models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='status')),
                        ('response', models.JSONField(blank=True, null=True, verbose_name='response')),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='created')),
                    ],
                    options={
                        'verbose_name': 'idempotency record',
                        'verbose_name_plural': 'idempotency records',
                        'constraints': [models.UniqueConstraint(fields=('owner', 'key'), name='idempotency_owner_key')],
                    },
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
