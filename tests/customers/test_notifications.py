"""customers.notifications: a finished import mails its uploader, through the outbox, after the job's final
status is committed."""

import datetime as dt

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from django.utils.translation import gettext

from core import outbox
from core.models import OutboxMessage
from customers import notifications
from customers.ingest import jobs as import_jobs
from customers.models import ImportStatus

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CRM_SITE_URL = "https://crm.example.com"


@pytest.fixture
def uploader(world):
    world.ho_user.email, world.ho_user.language = "ho@example.com", "en"
    world.ho_user.save()
    return world.ho_user


def _run(user, content: bytes, *, dry_run: bool, name="客户.csv"):
    job = import_jobs.import_job_create(actor=user, kind="customers", dry_run=dry_run,
                                        upload=SimpleUploadedFile(name, content, content_type="text/csv"))
    return import_jobs.import_job_run(job, now=NOW)


def deliver():
    return outbox.deliver(now=timezone.now())


GOOD = "cif,name,branch\nNT000001,客户一,B1\nNT000002,客户二,B1\nNT000003,,B1\n".encode()


def test_a_finished_import_mails_the_uploader_through_the_outbox(uploader):
    job = _run(uploader, GOOD, dry_run=False)
    assert job.status == ImportStatus.DONE
    message = OutboxMessage.objects.get(topic=notifications.IMPORT_FINISHED)
    assert message.payload == {"job_id": job.pk} and message.delivered_at is None
    assert mail.outbox == []  # nothing leaves before the outbox worker delivers

    assert deliver()["delivered"] == 1
    [sent] = mail.outbox
    assert sent.to == ["ho@example.com"]
    assert sent.subject == "The import of 客户.csv has finished"
    assert "3 rows read: 2 records created, 0 updated, 0 unchanged and 1 rejected." in sent.body
    assert f"https://crm.example.com/customers/import/jobs/{job.pk}/" in sent.body
    assert deliver()["delivered"] == 0 and len(mail.outbox) == 1  # sent once


def test_a_preview_says_nothing_is_written_yet(uploader):
    job = _run(uploader, GOOD, dry_run=True)
    deliver()
    [sent] = mail.outbox
    assert sent.subject == "The preview of 客户.csv is ready"
    assert "3 rows checked: 2 would be created" in sent.body and "apply the preview" in sent.body
    assert f"/customers/import/jobs/{job.pk}/" in sent.body


def test_a_failed_import_mails_the_reason(uploader):
    job = _run(uploader, b"name\nno key column\n", dry_run=False)
    assert job.status == ImportStatus.FAILED
    deliver()
    [sent] = mail.outbox
    assert sent.subject == "The import of 客户.csv failed"
    assert job.error in sent.body


def test_the_mail_is_in_the_uploaders_language(uploader):
    uploader.language = "zh-hans"
    uploader.save()
    _run(uploader, GOOD, dry_run=False)
    with translation.override("en"):
        deliver()
    [sent] = mail.outbox
    with translation.override("zh-hans"):
        expected = gettext("The import of %(file)s has finished") % {"file": "客户.csv"}
    assert sent.subject == expected


def test_an_uploader_without_an_address_gets_nothing_and_the_message_is_done(world):
    world.ho_user.email = ""
    world.ho_user.save()
    _run(world.ho_user, GOOD, dry_run=False)
    assert deliver() == {"delivered": 1, "failed": 0, "given_up": 0}
    assert mail.outbox == []


def test_a_job_that_does_not_run_again_sends_nothing_again(uploader):
    job = _run(uploader, GOOD, dry_run=False)
    import_jobs.import_job_run(job.pk, now=NOW)  # a second delivery of the task: the job is done already
    assert OutboxMessage.objects.filter(topic=notifications.IMPORT_FINISHED).count() == 1
